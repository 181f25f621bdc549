#include "cli/chat_terminal.h"

#include "core/log.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <poll.h>
#include <pthread.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

namespace tllm {
namespace {

// The program's one piece of mutable global state, because it has to be: a signal handler can reach
// nothing else, and all it may safely do is store to a lock-free atomic. Everyone else only reads it
// (readline's key hook, the generation loop through ChatSession's stop flag) or clears it between turns.
std::atomic<bool> g_interrupt_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "a signal handler may only touch lock-free atomics");

void on_sigint(int) { g_interrupt_requested.store(true, std::memory_order_relaxed); }

sigset_t sigint_set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    return set;
}

// Readline cannot see SIGINT on its own once it no longer catches signals, and Ctrl-C never arrives as a
// key while the terminal turns it into a signal. So the key reader waits with SIGINT unblocked only
// inside ppoll (no lost wake-up between the flag check and the wait) and, once the flag is set, returns
// this key, which is bound to ending the line.
constexpr int kInterruptKey = 3; // Ctrl-C's code

int read_key(FILE* stream) {
    const sigset_t blocked = sigint_set();
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    sigset_t waiting = previous;
    sigdelset(&waiting, SIGINT);
    int key = EOF;
    while (true) {
        if (g_interrupt_requested.load(std::memory_order_relaxed)) {
            key = kInterruptKey;
            break;
        }
        pollfd input{fileno(stream), POLLIN, 0};
        if (ppoll(&input, 1, nullptr, &waiting) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        unsigned char byte = 0;
        const ssize_t n = ::read(input.fd, &byte, 1);
        if (n == 1) {
            key = byte;
            break;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        break; // end of input or a read error: readline treats EOF as Ctrl-D
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return key;
}

// Bound to kInterruptKey: hands back the line typed so far; the caller sees the flag and discards it.
int end_line_on_interrupt(int, int) {
    std::fputs("^C\n", rl_outstream != nullptr ? rl_outstream : stdout);
    rl_done = 1;
    return 0;
}

class ReadlineReader : public LineReader {
  public:
    explicit ReadlineReader(std::string history_file) : history_file_(std::move(history_file)) {
        rl_readline_name = "tritonllm";
        if (::isatty(STDOUT_FILENO) == 0) {
            rl_outstream = stderr; // prompts belong on the terminal, not in redirected replies
        }
        rl_catch_signals = 0; // SigintCatcher owns SIGINT
        rl_getc_function = read_key;
        rl_bind_key(kInterruptKey, end_line_on_interrupt);
        using_history();
        stifle_history(kHistoryLines);
        if (!history_file_.empty() && read_history(history_file_.c_str()) != 0) {
            // No file yet: create it, since append_history only appends to an existing one.
            if (write_history(history_file_.c_str()) != 0) {
                TLLM_LOG_WARN("cannot write the chat history file {}; history is kept for this session only",
                              history_file_);
                history_file_.clear();
            }
        }
    }
    ~ReadlineReader() override {
        if (!history_file_.empty()) {
            history_truncate_file(history_file_.c_str(), kHistoryLines);
        }
        clear_history();
    }

    InputResult read_line(const std::string& prompt) override {
        char* line = readline(prompt.c_str());
        InputResult result;
        if (line != nullptr) {
            result.text = line;
            std::free(line);
        }
        if (g_interrupt_requested.load(std::memory_order_relaxed)) {
            result.status = InputStatus::kInterrupted;
        } else {
            result.status = line != nullptr ? InputStatus::kMessage : InputStatus::kEnd;
        }
        return result;
    }

    void remember(const std::string& message) override {
        add_history(message.c_str());
        if (!history_file_.empty()) {
            append_history(1, history_file_.c_str());
        }
    }

  private:
    static constexpr int kHistoryLines = 1000;
    std::string history_file_;
};

class StreamReader : public LineReader {
  public:
    ~StreamReader() override { std::free(buffer_); }
    InputResult read_line(const std::string&) override {
        errno = 0;
        const ssize_t n = ::getline(&buffer_, &capacity_, stdin);
        if (n < 0) {
            const bool interrupted = errno == EINTR && g_interrupt_requested.load(std::memory_order_relaxed);
            std::clearerr(stdin);
            return {interrupted ? InputStatus::kInterrupted : InputStatus::kEnd, {}};
        }
        std::string line(buffer_, static_cast<size_t>(n));
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
            line.pop_back();
        }
        return {InputStatus::kMessage, std::move(line)};
    }

  private:
    char* buffer_ = nullptr;
    size_t capacity_ = 0;
};

bool is_block_fence(std::string_view line) {
    const size_t first = line.find_first_not_of(" \t");
    const size_t last = line.find_last_not_of(" \t");
    return first != std::string_view::npos && line.substr(first, last - first + 1) == R"(""")";
}

} // namespace

const std::atomic<bool>& interrupt_requested() { return g_interrupt_requested; }
void clear_interrupt_request() { g_interrupt_requested.store(false, std::memory_order_relaxed); }

SigintCatcher::SigintCatcher() {
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: a blocked read returns EINTR and sees the flag
    sigaction(SIGINT, &action, &previous_);
}

SigintCatcher::~SigintCatcher() { sigaction(SIGINT, &previous_, nullptr); }

SigintBlocker::SigintBlocker() {
    const sigset_t blocked = sigint_set();
    pthread_sigmask(SIG_BLOCK, &blocked, &previous_);
}

SigintBlocker::~SigintBlocker() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

std::unique_ptr<LineReader> make_readline_reader(const std::string& history_file) {
    return std::make_unique<ReadlineReader>(history_file);
}

std::unique_ptr<LineReader> make_stream_reader() { return std::make_unique<StreamReader>(); }

InputResult read_message(LineReader& reader, const std::string& prompt, const std::string& continuation_prompt) {
    InputResult first = reader.read_line(prompt);
    if (first.status != InputStatus::kMessage) {
        return first;
    }
    std::string message;
    if (is_block_fence(first.text)) {
        for (bool first_line = true;; first_line = false) {
            InputResult next = reader.read_line(continuation_prompt);
            if (next.status == InputStatus::kInterrupted) {
                return {InputStatus::kInterrupted, message + next.text + "\n"}; // never an empty prompt
            }
            if (next.status == InputStatus::kEnd || is_block_fence(next.text)) {
                return {InputStatus::kMessage, std::move(message)};
            }
            message += (first_line ? "" : "\n") + next.text;
        }
    }
    std::string line = std::move(first.text);
    while (!line.empty() && line.back() == '\\') {
        line.pop_back();
        message += line + "\n";
        InputResult next = reader.read_line(continuation_prompt);
        if (next.status == InputStatus::kInterrupted) {
            return {InputStatus::kInterrupted, message + next.text};
        }
        line = next.status == InputStatus::kEnd ? std::string() : std::move(next.text);
    }
    return {InputStatus::kMessage, message + line};
}

TextStyle text_style(bool color) {
    if (!color) {
        return {"", "", "", ""};
    }
    return {"\x1b[2m", "\x1b[1m", "\x1b[36m", "\x1b[0m"};
}

void ReplyPrinter::write(std::string_view text) {
    if (text.empty()) {
        return;
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    at_line_start_ = text.back() == '\n';
}

void ReplyPrinter::write_token(TokenId token) {
    Result<std::string_view> bytes = tokenizer_->token_bytes(token);
    write(decoder_.push(bytes.ok() ? *bytes : std::string_view("\xEF\xBF\xBD")));
}

void ReplyPrinter::on_token(TokenId token) {
    if (raw_ || unformatted_) {
        write_token(token);
        return;
    }
    if (in_message_) {
        return;
    }
    // The parser only gives up on a header after many tokens. Output that is not Harmony (a random-weights
    // model's) is shown as it comes instead, once no real header could be that long.
    header_tokens_.push_back(token);
    if (header_tokens_.size() > kHeaderPatience) {
        unformatted_ = true;
        const TextStyle style = text_style(color_);
        write(fmt::format("{}Output (not Harmony):{} ", style.bold, style.reset));
        for (TokenId pending : header_tokens_) {
            write_token(pending);
        }
    }
}

void ReplyPrinter::on_events(std::span<const ParserEvent> events) {
    if (raw_ || unformatted_) {
        return;
    }
    for (const ParserEvent& event : events) {
        switch (event.type) {
        case ParserEventType::kMessageStart:
            header_tokens_.clear();
            begin_message(event.message);
            break;
        case ParserEventType::kTextDelta:
            if (!filtering_) {
                write(event.text);
                break;
            }
            message_text_ += event.text;
            show_filtered(false);
            break;
        case ParserEventType::kMessageEnd:
            if (filtering_) {
                show_filtered(true);
            }
            end_message();
            break;
        case ParserEventType::kWarning:
            TLLM_LOG_DEBUG("harmony parser: {}", event.text);
            break;
        case ParserEventType::kToolCall:
            break;
        }
    }
}

void ReplyPrinter::begin_message(const ParsedMessage& header) {
    const TextStyle style = text_style(color_);
    if (!at_line_start_) {
        write("\n");
    }
    std::string label;
    if (header.degraded) {
        label = fmt::format("{}Output (not Harmony):{} ", style.bold, style.reset);
    } else if (header.role != Role::kAssistant) {
        label = fmt::format("{}{}:{} {}", style.faint, header.name.value_or(std::string(role_name(header.role))),
                            style.reset, style.faint);
    } else if (header.recipient) {
        label = fmt::format("{}Tool call to {}:{} {}", style.cyan, *header.recipient, style.reset, style.cyan);
    } else if (header.channel == "analysis") {
        label = fmt::format("{}Thinking: ", style.faint);
    } else if (header.channel == "commentary") {
        label = fmt::format("{}Commentary:{} ", style.cyan, style.reset);
    } else {
        label = fmt::format("{}Assistant:{} ", style.bold, style.reset);
    }
    write(label);
    in_message_ = true;
    filtering_ = filter_ && header.role == Role::kAssistant && !header.recipient && !header.degraded;
    message_text_.clear();
    shown_bytes_ = 0;
}

void ReplyPrinter::end_message() {
    if (in_message_) {
        write(text_style(color_).reset);
        write("\n");
    }
    in_message_ = false;
}

void ReplyPrinter::show_filtered(bool complete) {
    bool partial = false;
    const std::string filtered = filter_(message_text_, partial);
    // A filter only rewrites what it has seen whole, so what was shown stays a prefix of its output.
    if ((partial && !complete) || filtered.size() <= shown_bytes_) {
        return;
    }
    write(std::string_view(filtered).substr(shown_bytes_));
    shown_bytes_ = filtered.size();
}

void ReplyPrinter::finish() {
    write(decoder_.flush());
    if (filtering_ && in_message_) {
        show_filtered(true);
    }
    end_message();
    if (!at_line_start_) {
        write("\n");
    }
}

} // namespace tllm
