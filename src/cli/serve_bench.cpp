#include "cli/serve_bench.h"

#include "cli/build_info.h"
#include "cli/load_bench_report.h"
#include "core/log.h"
#include "core/random.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fmt/format.h>
#include <httplib.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace tllm {
// Named, not anonymous: the cli's files are compiled as one unit, and the engine bench has helpers of these names.
namespace serve_bench {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// What one streaming request saw.
struct Stream {
    std::vector<double> chunk_times; // seconds after its send, of each chunk carrying generated text or a call
    int64_t prompt_tokens = 0;       // the server's usage
    int64_t output_tokens = 0;
    std::string error; // "" when it ended with [DONE] and its usage
};

// The base URL split for httplib: "http://host:port" and the path before /v1 ("" or "/prefix").
struct Target {
    std::string origin;
    std::string prefix;
};

Result<Target> parse_url(const std::string& url) {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos || (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0)) {
        return make_error(ErrorCode::kInvalidArgument, "--serve needs an http:// or https:// URL, not \"{}\"", url);
    }
    const size_t path = url.find('/', scheme + 3);
    Target target{url.substr(0, path), path == std::string::npos ? "" : url.substr(path)};
    while (!target.prefix.empty() && target.prefix.back() == '/') {
        target.prefix.pop_back();
    }
    if (target.prefix.ends_with("/v1")) { // clients' base URLs often end in /v1
        target.prefix.resize(target.prefix.size() - 3);
    }
    return target;
}

std::unique_ptr<httplib::Client> client(const Target& target, const std::string& api_key) {
    auto out = std::make_unique<httplib::Client>(target.origin);
    out->set_connection_timeout(10, 0);
    out->set_read_timeout(600, 0);
    if (!api_key.empty()) {
        out->set_bearer_token_auth(api_key);
    }
    return out;
}

// A user message of `tokens` o200k tokens of common words, different for each `index` (so that the prefix cache
// shares only the chat template between streams).
std::string prompt_text(const Tokenizer& tokenizer, int tokens, uint64_t seed, int index) {
    static constexpr const char* kWords[] = {
        "time",   "people", "water",    "house",  "river",  "light",  "music",   "paper",  "city",   "story",  "garden",
        "window", "market", "winter",   "summer", "road",   "stone",  "cloud",   "bread",  "horse",  "forest", "table",
        "letter", "field",  "mountain", "island", "school", "friend", "machine", "answer", "number", "color"};
    Rng rng(seed ^ (0x7365727665ull + static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ull));
    std::string text = "Request " + std::to_string(index) + ":";
    for (int i = 0; i < tokens; ++i) {
        text += ' ';
        text += kWords[rng.next() % std::size(kWords)];
    }
    Result<std::vector<TokenId>> ids = tokenizer.encode_ordinary(text);
    if (!ids.ok() || static_cast<int>(ids->size()) <= tokens) {
        return text;
    }
    ids->resize(static_cast<size_t>(tokens));
    Result<std::string> cut = tokenizer.decode(*ids);
    return cut.ok() ? *cut : text;
}

// One streaming request; `arrived` holds each chunk's time after `sent`.
Stream run_stream(const Target& target, const std::string& api_key, const std::string& body) {
    Stream out;
    std::unique_ptr<httplib::Client> http = client(target, api_key);
    std::string pending; // bytes of an event not yet complete
    bool done = false;
    const Clock::time_point sent = Clock::now();
    auto on_event = [&](const std::string& data, double at) {
        if (data == "[DONE]") {
            done = true;
            return;
        }
        const Json chunk = Json::parse(data, nullptr, false);
        if (chunk.is_discarded()) {
            out.error = "a chunk that is not JSON";
            return;
        }
        if (chunk.contains("error")) {
            out.error = chunk["error"].value("message", std::string("an error event"));
            return;
        }
        if (chunk.contains("usage") && chunk["usage"].is_object()) {
            out.prompt_tokens = chunk["usage"].value("prompt_tokens", int64_t{0});
            out.output_tokens = chunk["usage"].value("completion_tokens", int64_t{0});
        }
        if (!chunk.contains("choices") || chunk["choices"].empty()) {
            return;
        }
        const Json& delta = chunk["choices"][0].value("delta", Json::object());
        for (const char* key : {"content", "reasoning", "tool_calls"}) {
            if (delta.contains(key) && !delta[key].is_null() && !(delta[key].is_string() && delta[key] == "")) {
                out.chunk_times.push_back(at);
                return;
            }
        }
    };
    httplib::Request request;
    request.method = "POST";
    request.path = target.prefix + "/v1/chat/completions";
    request.body = body;
    request.set_header("Content-Type", "application/json");
    request.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
        const double at = std::chrono::duration<double>(Clock::now() - sent).count();
        pending.append(data, size);
        for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
            const std::string event = pending.substr(0, end);
            pending.erase(0, end + 2);
            if (event.starts_with("data: ")) {
                on_event(event.substr(6), at);
            }
        }
        return true;
    };
    httplib::Result result = http->send(request);
    if (!result) {
        out.error = "HTTP: " + httplib::to_string(result.error());
    } else if (result->status != 200) {
        out.error = fmt::format("HTTP {}: {}", result->status, pending.substr(0, 200));
    } else if (out.error.empty() && (!done || out.prompt_tokens == 0)) {
        out.error = "the stream ended without its usage and [DONE]";
    }
    return out;
}

// One level: `streams` requests started together; one JSON row.
Json run_level(const Target& target,
               const ServeBenchFlags& flags,
               const std::string& model,
               int streams,
               const Tokenizer& tokenizer,
               int first_index) {
    std::vector<std::string> bodies;
    for (int i = 0; i < streams; ++i) {
        bodies.push_back(
            Json{{"model", model},
                 {"messages",
                  {{{"role", "user"},
                    {"content", prompt_text(tokenizer, flags.prompt_tokens, flags.seed, first_index + i)}}}},
                 {"max_tokens", flags.gen_tokens},
                 {"stream", true},
                 {"stream_options", {{"include_usage", true}}}}
                .dump());
    }
    std::vector<Stream> results(static_cast<size_t>(streams));
    std::mutex mutex;
    std::condition_variable go;
    bool started = false;
    int ready = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < streams; ++i) {
        threads.emplace_back([&, i] {
            {
                std::unique_lock<std::mutex> lock(mutex);
                ++ready;
                go.notify_all();
                go.wait(lock, [&] { return started; });
            }
            results[static_cast<size_t>(i)] = run_stream(target, flags.api_key, bodies[static_cast<size_t>(i)]);
        });
    }
    Clock::time_point start;
    {
        std::unique_lock<std::mutex> lock(mutex);
        go.wait(lock, [&] { return ready == streams; });
        started = true;
        start = Clock::now();
    }
    go.notify_all();
    for (std::thread& thread : threads) {
        thread.join();
    }
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    int64_t prompt_total = 0;
    int64_t output_total = 0;
    int errors = 0;
    std::vector<double> ttft;
    std::vector<double> gaps;
    for (const Stream& s : results) {
        if (!s.error.empty()) {
            ++errors;
            TLLM_LOG_WARN("bench --serve: a request failed: {}", s.error);
            continue;
        }
        prompt_total += s.prompt_tokens;
        output_total += s.output_tokens;
        if (!s.chunk_times.empty()) {
            ttft.push_back(s.chunk_times.front());
        }
        for (size_t i = 1; i < s.chunk_times.size(); ++i) {
            gaps.push_back(s.chunk_times[i] - s.chunk_times[i - 1]);
        }
    }
    Json row{{"streams", streams},
             {"requests", streams},
             {"errors", errors},
             {"seconds", wall},
             {"prompt_tokens_total", prompt_total},
             {"output_tokens_total", output_total},
             {"output_tok_s", static_cast<double>(output_total) / wall},
             {"total_tok_s", static_cast<double>(prompt_total + output_total) / wall}};
    add_latency_percentiles(row, ttft, gaps);
    return row;
}

} // namespace serve_bench

Status run_serve_bench(const ServeBenchFlags& flags) {
    using namespace serve_bench;
    TLLM_ASSIGN_OR_RETURN(const Target target, parse_url(flags.url));
    if (flags.concurrency.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "bench --serve needs --concurrency (e.g. 1,8,32,64,256)");
    }
    // The served model's name, which also checks that the server answers and takes the key.
    httplib::Result models = client(target, flags.api_key)->Get(target.prefix + "/v1/models");
    if (!models) {
        return make_error(ErrorCode::kIoError, "cannot reach {}: {}", flags.url, httplib::to_string(models.error()));
    }
    const Json list = Json::parse(models->body, nullptr, false);
    if (models->status != 200 || list.is_discarded() || !list.contains("data") || list["data"].empty()) {
        return make_error(ErrorCode::kIoError, "{}/v1/models answered HTTP {}: {}", flags.url, models->status,
                          models->body.substr(0, 200));
    }
    const std::string model = list["data"][0].value("id", std::string());
    TLLM_ASSIGN_OR_RETURN(const Tokenizer tokenizer, Tokenizer::o200k_harmony());
    const Json version = build_info_json(build_info());
    std::vector<Json> rows;
    int index = 0;
    for (int streams : flags.concurrency) {
        Json row = run_level(target, flags, model, streams, tokenizer, index);
        index += streams;
        row["url"] = flags.url;
        row["model"] = model;
        emit_row(std::move(row), flags.prompt_tokens, flags.gen_tokens, version, rows);
    }
    if (!flags.json_only) {
        std::printf("\n%s (%s) over HTTP, %d-token user messages, up to %d generated per stream\n", flags.url.c_str(),
                    model.c_str(), flags.prompt_tokens, flags.gen_tokens);
        std::printf("| streams | output tok/s | total tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | "
                    "output tokens | errors |\n|---|---|---|---|---|---|---|---|---|\n");
        for (const Json& r : rows) {
            std::printf("| %d | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %lld | %d |\n", r["streams"].get<int>(),
                        r["output_tok_s"].get<double>(), r["total_tok_s"].get<double>(), r["ttft_ms_p50"].get<double>(),
                        r["ttft_ms_p99"].get<double>(), r["itl_ms_p50"].get<double>(), r["itl_ms_p99"].get<double>(),
                        static_cast<long long>(r["output_tokens_total"].get<int64_t>()), r["errors"].get<int>());
        }
    }
    int errors = 0;
    for (const Json& r : rows) {
        errors += r["errors"].get<int>();
    }
    if (errors > 0) {
        return make_error(ErrorCode::kIoError, "{} requests failed (the log says why)", errors);
    }
    return {};
}

} // namespace tllm
