// The chat's terminal side: Ctrl-C as a flag, reading messages (GNU readline with history on a terminal,
// plain lines from a pipe), and printing a reply as it streams (reasoning dimmed, tool calls marked).
#pragma once

#include "chat/chat_session.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tllm {

// Set by SIGINT while a SigintCatcher is alive; the chat clears it before each read and each reply.
const std::atomic<bool>& interrupt_requested();
void clear_interrupt_request();

// Routes SIGINT to the flag above for its lifetime (without SA_RESTART, so a blocking read wakes up),
// then puts the previous handler back.
class SigintCatcher {
  public:
    SigintCatcher();
    ~SigintCatcher();
    SigintCatcher(const SigintCatcher&) = delete;
    SigintCatcher& operator=(const SigintCatcher&) = delete;

  private:
    struct sigaction previous_ {};
};

// Blocks SIGINT in the calling thread for its lifetime. Threads started meanwhile (the engine's workers,
// the CUDA driver's) inherit the mask, so SIGINT always reaches the main thread and wakes its reads.
class SigintBlocker {
  public:
    SigintBlocker();
    ~SigintBlocker();
    SigintBlocker(const SigintBlocker&) = delete;
    SigintBlocker& operator=(const SigintBlocker&) = delete;

  private:
    sigset_t previous_{};
};

enum class InputStatus {
    kMessage,     // text: the message
    kInterrupted, // Ctrl-C; text: what had been typed (empty at an empty prompt)
    kEnd,         // Ctrl-D or the end of the input
};

struct InputResult {
    InputStatus status = InputStatus::kEnd;
    std::string text;
};

class LineReader {
  public:
    virtual ~LineReader() = default;
    // One line without its newline.
    virtual InputResult read_line(const std::string& prompt) = 0;
    // Adds a sent message to the history.
    virtual void remember(const std::string& message) { (void)message; }
};

// GNU readline with line editing; history kept in `history_file` ("" for none). Ctrl-C abandons the line.
std::unique_ptr<LineReader> make_readline_reader(const std::string& history_file);
// Lines from standard input with no prompt and no editing, for scripts.
std::unique_ptr<LineReader> make_stream_reader();

// One message: a line; lines ending in a backslash continue on the next; a line of """ opens a block
// that runs to the next line of """.
InputResult read_message(LineReader& reader, const std::string& prompt, const std::string& continuation_prompt);

// Streams a reply to stdout: with `raw`, every token's text as it is (Harmony scaffolding included);
// otherwise each message under a label, reasoning dimmed, tool calls and commentary in colour when
// `color`. One printer per reply.
class ReplyPrinter : public ChatObserver {
  public:
    ReplyPrinter(const Tokenizer& tokenizer, bool raw, bool color) : tokenizer_(&tokenizer), raw_(raw), color_(color) {}
    void on_token(TokenId token) override;
    void on_events(std::span<const ParserEvent> events) override;
    // Ends the reply's last line and resets the style.
    void finish();
    // Writes text to stdout now.
    void write(std::string_view text);
    // Rewrites what assistant messages say before it is shown (the browser's citations become links).
    // `filter(text, partial)` gets a message's whole text so far and sets `partial` while the end of the text
    // may still turn into something it rewrites; that part is held back until it is known.
    using TextFilter = std::function<std::string(std::string_view text, bool& partial)>;
    void set_text_filter(TextFilter filter) { filter_ = std::move(filter); }

  private:
    void write_token(TokenId token);
    void begin_message(const ParsedMessage& header);
    void end_message();
    // Writes what is new in the filtered text of the message; `complete`: also a trailing partial part.
    void show_filtered(bool complete);

    // More header tokens than any real Harmony header has (recipient and content type included).
    static constexpr size_t kHeaderPatience = 32;

    const Tokenizer* tokenizer_;
    bool raw_;
    bool color_;
    Utf8StreamDecoder decoder_;
    bool in_message_ = false;
    bool at_line_start_ = true;
    std::vector<TokenId> header_tokens_; // since the last message ended
    bool unformatted_ = false;           // the reply is shown token by token, as text
    TextFilter filter_;
    bool filtering_ = false;   // the current message goes through filter_
    std::string message_text_; // the current message's text as the model wrote it
    size_t shown_bytes_ = 0;   // of its filtered text, written so far
};

// ANSI styles; empty strings when `color` is false.
struct TextStyle {
    std::string_view faint, bold, cyan, reset;
};
TextStyle text_style(bool color);

} // namespace tllm
