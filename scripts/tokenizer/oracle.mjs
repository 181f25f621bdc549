#!/usr/bin/env node
// Reference encodings from npm `tiktoken` (a WASM build of OpenAI's Rust tiktoken core, fancy-regex:
// the same engine family as openai/tiktoken and openai/harmony). Do not swap in js-tiktoken or
// gpt-tokenizer: they use JavaScript's \s and mis-encode U+0085 / U+FEFF.
//
//   node oracle.mjs cases --count N --seed S --out FILE [--all-code-points 0]
//        generated test strings + reference ids (JSONL); also every code point in context unless disabled
//   node oracle.mjs bench --file TEXT [--repeat R]        encode throughput of tiktoken on a UTF-8 file
//
// Each JSONL line: {"kind": category, "special": bool, "text": string, "ids": [int]}. With special=true the
// text may hold Harmony special-token strings and ids are encode(text, "all") over o200k_harmony.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { Tiktoken } = require("tiktoken");
const o200k = require("tiktoken/encoders/o200k_base.json");

function harmonySpecials() {
  const specials = {
    "<|startoftext|>": 199998, "<|endoftext|>": 199999, "<|reserved_200000|>": 200000,
    "<|reserved_200001|>": 200001, "<|return|>": 200002, "<|constrain|>": 200003, "<|reserved_200004|>": 200004,
    "<|channel|>": 200005, "<|start|>": 200006, "<|end|>": 200007, "<|message|>": 200008,
    "<|reserved_200009|>": 200009, "<|reserved_200010|>": 200010, "<|reserved_200011|>": 200011,
    "<|call|>": 200012, "<|endofprompt|>": 200018,
  };
  for (let id = 200013; id < 201088; id++) {
    specials[`<|reserved_${id}|>`] = id;  // 200018 gets its second name here
  }
  return specials;
}

function args(argv) {
  const out = { _: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  return out;
}

// mulberry32: small seeded PRNG, so a seed gives the same cases on every machine.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)] };
}

const SCRIPTS = ("Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali " +
  "Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham " +
  "Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari Dives_Akuru Dogra " +
  "Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Greek Gujarati " +
  "Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited " +
  "Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kawi Kayah_Li Kharoshthi " +
  "Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani " +
  "Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui " +
  "Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari " +
  "Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic " +
  "Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage " +
  "Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan " +
  "Saurashtra Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri " +
  "Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai Tibetan Tifinagh " +
  "Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square").split(" ");

// Code points of each script (Unicode 15.0 scripts only; the assignment comes from node's ICU).
function scriptPools() {
  const regexes = SCRIPTS.map((s) => [s, new RegExp(`^\\p{Script=${s}}$`, "u")]);
  const pools = Object.fromEntries(SCRIPTS.map((s) => [s, []]));
  const assigned = /^\P{Cn}$/u;
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const ch = String.fromCodePoint(cp);
    if (!assigned.test(ch)) continue;
    for (const [name, re] of regexes) {
      if (re.test(ch)) { pools[name].push(ch); break; }
    }
  }
  return pools;
}

const WHITESPACE = [" ", " ", " ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2000",
  "\u2003", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\u200b", "\u180e"];
const EMOJI = ["😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴‍☠️", "🤷🏽‍♀️", "🇯🇵", "🇺🇸", "🇪🇺", "❤️", "❤️‍🔥", "1️⃣", "#️⃣",
  "🧑🏿‍🤝‍🧑🏻", "👁️‍🗨️", "🐻‍❄️", "✌🏿", "🫶🏼", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "☺︎", "🀄", "🆗", "©️", "‼️"];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'D",
  "\u2019s", "\u2019t", "'\u017f", "'x", "''", "'"];
const WORDS = ["the", "The", "THE", "don", "they", "I", "YOU", "it", "we", "naïve", "nai\u0308ve", "straße", "ǅungla",
  "HTTPServer", "getHTTPResponse", "camelCase", "snake_case", "Ωμέγα", "Привет", "日本語", "한국어", "مرحبا", "שלום",
  "नमस्ते", "ไทย", "über", "ÆØÅ", "ﬁnance", "ⅫⅣ", "x²", "½", "①②", "٣٤٥"];
const CODE = ["def f(x):\n    return x**2\n", "int main() { return 0; }", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
  '{"key": [1, 2.5e-3, null], "b": true}', "x=-1.5e-3;y+=2**8", "https://example.com/a/b?q=1&r=2#frag",
  "/usr/local/bin/", "C:\\Windows\\System32", "<div class=\"x\">&amp;</div>", "SELECT * FROM t WHERE id=42;",
  "#include <vector>\n", "  // comment\n", "a->b.c::d", "@decorator\nclass A(B):\n    pass", "$ ls -la | grep .txt",
  "λx.x", "fn main() -> Result<(), Box<dyn Error>> {}", "```python\nprint('hi')\n```", "if(a&&b||!c){x<<=2;}"];
const DIGITS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３", "²³¹", "¼½¾", "①②③", "ⅠⅡⅢ", "𝟘𝟙𝟚", "፩፪"]
  .map((s) => Array.from(s));  // code points, never halves of surrogate pairs

function makeGenerators(pools) {
  const scriptNames = SCRIPTS.filter((s) => pools[s].length > 0);
  const anyCodePoint = (r) => {
    for (;;) {
      const roll = r.next();
      const cp = roll < 0.5 ? r.int(0x800) : roll < 0.85 ? r.int(0x10000) : r.int(0x110000);
      if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
    }
  };
  const run = (r, n, f) => Array.from({ length: n }, () => f()).join("");
  return {
    script: (r) => {
      const pool = pools[r.pick(scriptNames)];
      const words = 1 + r.int(5);
      return run(r, words, () => (r.int(3) ? " " : "") + run(r, 1 + r.int(8), () => r.pick(pool)));
    },
    emoji: (r) => run(r, 1 + r.int(4), () => r.pick(EMOJI) + (r.int(3) ? "" : r.pick([" ", "", "x", "\n"]))),
    whitespace: (r) => run(r, 1 + r.int(3), () => run(r, 1 + r.int(6), () => r.pick(WHITESPACE)) +
                                        r.pick(["a", "Word", "1", "!", "", "日", "\u0301x", "'s"])),
    digits: (r) => run(r, 1 + r.int(4), () => run(r, 1 + r.int(9), () => r.pick(r.pick(DIGITS))) +
                                     r.pick([" ", ",", ".", "", "e-", "x", "%"])),
    contraction: (r) => run(r, 1 + r.int(4), () => r.pick(["", " "]) + r.pick(WORDS) + r.pick(CONTRACTIONS)),
    code: (r) => run(r, 1 + r.int(3), () => r.pick(CODE)),
    random: (r) => run(r, 1 + r.int(24), () => anyCodePoint(r)),
    mixed: (r) => run(r, 2 + r.int(6), () => {
      const parts = [() => r.pick(WORDS), () => r.pick(WHITESPACE), () => r.pick(EMOJI), () => r.pick(CODE),
                     () => r.pick(CONTRACTIONS), () => anyCodePoint(r), () => r.pick(r.pick(DIGITS))];
      return r.pick(parts)();
    }),
  };
}

const FIXED = ["", " ", "\n", "a".repeat(120), " ".repeat(300) + "x", "\u0000\u0001\u0007\u001b", "a \ufeffb", "a \u0085b",
  "\ufeff", "\ufeffBOM at start", "don'\u017ft", "\r\n\r\n\r\n", "x\u2028\u2029y", "   leading and trailing   "];

function cases(opts) {
  const count = Number(opts.count ?? 12000);
  const r = rng(Number(opts.seed ?? 1));
  const generators = makeGenerators(scriptPools());
  const kinds = Object.keys(generators);
  const ordinary = new Tiktoken(o200k.bpe_ranks, o200k.special_tokens, o200k.pat_str);
  const harmony = new Tiktoken(o200k.bpe_ranks, harmonySpecials(), o200k.pat_str);
  const specialNames = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>",
    "<|call|>", "<|endoftext|>", "<|reserved_200018|>", "<|endofprompt|>", "<|reserved_201087|>", "<|", "|>",
    "<|reserved_201088|>", "<|start", "<|<|end|>"];
  const lines = [];
  const add = (kind, text, special) => {
    const ids = special ? harmony.encode(text, "all") : ordinary.encode_ordinary(text);
    lines.push(JSON.stringify({ kind, special, text, ids: Array.from(ids) }));
  };
  for (const text of FIXED) add("fixed", text, false);
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length];
    add(kind, generators[kind](r), false);
  }
  // Every code point (except surrogates) in a few contexts, 256 code points per case: the letter/mark/number/
  // White_Space classes of the whole code space are compared, Unicode-version differences included.
  if (opts["all-code-points"] !== "0") {
    for (let base = 0; base < 0x110000; base += 256) {
      let text = "";
      for (let cp = base; cp < base + 256; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        // Planes 4-13 are unassigned and 15-16 private use: sample 8 of every 4096 there.
        if (cp >= 0x40000 && (cp < 0xe0000 || cp >= 0xf0000) && (cp & 0xfff) >= 8) continue;
        const c = String.fromCodePoint(cp);
        text += `x${c}y ${c}1 ${c}${c}'s\n`;
      }
      if (text) add("code_points", text, false);
    }
  }
  const nSpecial = Math.max(1, Math.floor(count / 12));
  for (let i = 0; i < nSpecial; i++) {
    const parts = Array.from({ length: 2 + r.int(6) }, () =>
      r.int(2) ? r.pick(specialNames) : generators[r.pick(kinds)](r));
    add("special", parts.join(""), true);
  }
  ordinary.free();
  harmony.free();
  writeFileSync(opts.out, lines.join("\n") + "\n");
  process.stderr.write(`oracle: wrote ${lines.length} cases to ${opts.out}\n`);
}

function bench(opts) {
  const text = readFileSync(opts.file, "utf8");
  const repeat = Number(opts.repeat ?? 5);
  const enc = new Tiktoken(o200k.bpe_ranks, o200k.special_tokens, o200k.pat_str);
  enc.encode_ordinary(text.slice(0, 100000));  // warm up
  let best = Infinity;
  let n = 0;
  for (let i = 0; i < repeat; i++) {
    const start = process.hrtime.bigint();
    n = enc.encode_ordinary(text).length;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  const bytes = Buffer.byteLength(text, "utf8");
  console.log(JSON.stringify({ impl: "npm tiktoken 1.0.22 (WASM, Rust core)", bytes, tokens: n, seconds: best,
                               mb_per_s: bytes / 1e6 / best }));
  enc.free();
}

const opts = args(process.argv.slice(2));
if (opts._ === "cases" && opts.out) cases(opts);
else if (opts._ === "bench" && opts.file) bench(opts);
else {
  process.stderr.write("usage: oracle.mjs cases --count N --seed S --out FILE | bench --file TEXT [--repeat R]\n");
  process.exit(2);
}
