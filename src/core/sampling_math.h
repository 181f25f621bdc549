// The arithmetic the CPU sampler (runtime/sampler.cpp) and the GPU sampler
// (kernels/cuda/ops/f32_logits_sample.cu) must agree on bit for bit. The .cu cannot include host headers,
// so it carries a line-for-line copy of every function here: change both together, and keep
// tests/runtime/sampler_test.cpp's known values in step (they pin this copy; the GPU test pins the other
// against it).
//
// Every floating-point step is a single IEEE-754 binary32 operation rounded to nearest: no libm (whose
// logf/expf differ between glibc and CUDA by an ulp), no fused multiply-add (the device copy spells each
// operation with __fmul_rn/__fadd_rn, which nvcc never contracts; this copy relies on the compile not
// contracting either: GCC in ISO mode does not, and the targets that include it pass -ffp-contract=off), and
// no subnormal intermediates (so flush-to-zero could not change a result either). The polynomials need only be
// accurate to a few ulp: both sides compute the same approximation.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tllm::sampling {

// Fixed-point scale of the top-p masses: a token's weight is floor(exp(s - max) * 2^32).
inline constexpr uint64_t kMassOne = 1ull << 32;

// Radix select over 32-bit keys in three passes of 11, 11 and 10 bits, most significant first. The
// threshold a pass chooses depends only on the multiset of (key, weight), so the CPU and GPU agree however
// they order the work.
inline constexpr int kRadixPasses = 3;
inline constexpr int kRadixBins = 2048;
inline constexpr int kRadixShift[kRadixPasses] = {21, 10, 0};
inline constexpr int kRadixWidth[kRadixPasses] = {11, 11, 10};

// Order-preserving map from float to u32: a < b  <=>  key(a) < key(b) for non-NaN a, b. -0 is folded into +0
// (equal floats get equal keys) and NaN maps to 0, below every number (key(-inf) = 0x007fffff), so "key > 0"
// means "not NaN".
inline uint32_t order_key(float value) {
    uint32_t bits = std::bit_cast<uint32_t>(value);
    if (bits == 0x80000000u) {
        bits = 0;
    }
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return 0;
    }
    return (bits & 0x80000000u) != 0 ? ~bits : (bits | 0x80000000u);
}

// Inverse of order_key for keys of numbers (key > 0).
inline float key_to_float(uint32_t key) {
    return std::bit_cast<float>((key & 0x80000000u) != 0 ? (key & 0x7fffffffu) : ~key);
}

// Logits are scaled by multiplying with 1 / T (one rounding, like a division, and monotone in the logit), so
// the GPU computes no division per token.
inline float inverse_temperature(float temperature) { return 1.0f / temperature; }

// splitmix64's output function (core/random.h).
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// One draw's random stream: the draw for token i uses the i-th output of splitmix64 started here, so each
// (seed, counter) pair gives fresh independent numbers for every token without any state.
inline uint64_t draw_stream(uint64_t seed, uint64_t counter) {
    return mix64(seed ^ mix64(counter + 0x9e3779b97f4a7c15ull));
}

// 24 uniform bits for token `index`: u = (bits + 0.5) / 2^24 lies in (0, 1).
inline uint32_t draw_bits(uint64_t stream, uint32_t index) {
    return static_cast<uint32_t>(mix64(stream + (static_cast<uint64_t>(index) + 1) * 0x9e3779b97f4a7c15ull) >> 40);
}

// log(1 + t) for t in [-0.3, 0.5] as 2 atanh(t / (2 + t)): s^2 <= 0.04, so the series to s^9 leaves a
// relative error below 1e-8.
inline float log1p_core(float t) {
    const float s = t / (2.0f + t);
    const float z = s * s;
    float q = 0.09090909f; // 1/11
    q = q * z;
    q = q + 0.11111111f; // 1/9
    q = q * z;
    q = q + 0.14285715f; // 1/7
    q = q * z;
    q = q + 0.2f;
    q = q * z;
    q = q + 0.33333334f;
    const float two_s = s + s;
    float tail = two_s * z;
    tail = tail * q;
    return two_s + tail;
}

// ln 2 split so that e * kLn2Hi is exact for |e| < 256.
inline constexpr float kLn2Hi = 0.693145751953125f; // 0x3f317200
inline constexpr float kLn2Lo = 1.42860677e-06f;    // ln 2 - kLn2Hi

// Natural log of a positive normal float: x = m * 2^e with m in (sqrt(1/2), sqrt(2)].
inline float log_positive(float x) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    int exponent = static_cast<int>(bits >> 23) - 127;
    uint32_t mantissa = (bits & 0x007fffffu) | 0x3f800000u;
    if (mantissa > 0x3fb504f3u) {
        mantissa -= 0x00800000u;
        exponent += 1;
    }
    const float t = std::bit_cast<float>(mantissa) - 1.0f; // exact (Sterbenz)
    const float e = static_cast<float>(exponent);
    float result = e * kLn2Lo;
    result = log1p_core(t) + result;
    const float high = e * kLn2Hi;
    return high + result;
}

// -log(u) for u = (bits + 0.5) / 2^24, bits < 2^24, with u near 1 handled through 1 - u (which float can
// hold exactly there while u itself rounds): every branch works on exactly representable arguments.
inline float neg_log_uniform(uint32_t bits) {
    if (bits < (1u << 23)) { // u < 1/2
        const float u = static_cast<float>(2 * bits + 1) * (1.0f / 33554432.0f);
        return -log_positive(u);
    }
    const uint32_t c = (1u << 24) - 1 - bits; // 1 - u = v = (c + 0.5) / 2^24, c < 2^23
    if (c < (1u << 22)) {                     // v < 1/4: -log(1 - v) = -log1p(-v)
        const float v = static_cast<float>(2 * c + 1) * (1.0f / 33554432.0f);
        return -log1p_core(-v);
    }
    // v in [1/4, 1/2): 1 - v = (1 + t) / 2 with t = 1 - 2v exact.
    const float t = static_cast<float>((1u << 24) - 2 * c - 1) * (1.0f / 16777216.0f);
    const float core = log1p_core(t);
    const float lo = kLn2Lo - core;
    return kLn2Hi + lo;
}

// The Gumbel-perturbed score s + g with g = -log(-log(u)) of token `index`.
inline float gumbel_score(float scaled, uint64_t stream, uint32_t index) {
    const float exponential = neg_log_uniform(draw_bits(stream, index)); // in [3e-8, 17.4]
    return scaled - log_positive(exponential);
}

// floor(exp(scaled - max) * 2^32) for scaled <= max, both non-NaN; exp(d) = 2^n * exp(r), |r| <= ln2 / 2,
// exp(r) by its degree-7 Taylor polynomial (error below 1e-8). Tokens more than 23 below the max weigh 0.
inline uint64_t fixed_weight(float scaled, float max) {
    if (scaled == max) {
        return kMassOne;
    }
    const float d = scaled - max;
    if (!(d >= -23.0f)) {
        return 0;
    }
    const float magic = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer
    float n = d * 1.44269502f;       // log2(e)
    n = n + magic;
    n = n - magic;
    float r = n * kLn2Hi; // exact: |n| <= 34
    r = d - r;
    const float r_lo = n * kLn2Lo;
    r = r - r_lo;
    float p = 1.98412701e-04f; // 1/5040
    const float coefficients[6] = {1.38888892e-03f, 8.33333377e-03f, 4.16666679e-02f, 0.166666672f, 0.5f, 1.0f};
    for (float c : coefficients) {
        p = p * r;
        p = p + c;
    }
    p = p * r;
    p = p + 1.0f;
    const float scale = std::bit_cast<float>(static_cast<uint32_t>(static_cast<int>(n) + 32 + 127) << 23);
    return static_cast<uint64_t>(p * scale);
}

// The mass a top-p set must reach: max(1, ceil(top_p * total)) for top_p in (0, 1), in integer arithmetic:
// p32 = ceil(top_p * 2^32) <= 2^32 and total < 2^63 split the product. Exact for top_p >= 2^-9 (then
// top_p * 2^32 is an integer); a smaller top_p is first rounded up to a multiple of 2^-32.
inline uint64_t top_p_target(uint64_t total, float top_p) {
    const float scaled = top_p * 4294967296.0f;
    uint64_t p32 = static_cast<uint64_t>(scaled);
    if (static_cast<float>(p32) != scaled) {
        p32 += 1;
    }
    const uint64_t high = (total >> 32) * p32;
    const uint64_t low = ((total & 0xffffffffull) * p32 + 0xffffffffull) >> 32;
    const uint64_t target = high + low;
    return target > 0 ? target : 1;
}

// ---- Host only (not mirrored): the parameter rules both samplers enforce. ----

// Greedy (argmax of the raw logits) at temperature 0 or top_k == 1.
inline bool is_greedy(float temperature, int top_k) { return temperature == 0.0f || top_k == 1; }

// nullptr for valid parameters, else what is wrong. A temperature below FLT_MIN would make 1 / T infinite.
inline const char* sampling_params_problem(float temperature, float top_p, int top_k) {
    if (!(temperature == 0.0f || (temperature >= std::numeric_limits<float>::min() && std::isfinite(temperature)))) {
        return "temperature must be 0 (greedy) or a finite number >= 1.17549435e-38";
    }
    if (!(top_p > 0.0f && top_p <= 1.0f)) {
        return "top_p must be in (0, 1]";
    }
    if (top_k < 0) {
        return "top_k must be >= 0 (0: no limit)";
    }
    return nullptr;
}

} // namespace tllm::sampling
