// Browser::call: the model's JSON arguments -> typed calls, as leniently as the reference reads them (missing
// keys take the declared defaults, unknown keys are ignored) and with argument errors reported as the reference
// reports them, `{"error": "..."}`.
#include "tools/browser/browser.h"
#include "tools/browser/text_util.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace tllm::tools {

namespace {

using Json = nlohmann::json;

std::string error_reply(std::string_view message) {
    return "{\"error\": " + browser_text::python_json_string(message) + "}";
}

// Python's type names, for messages about wrongly typed arguments.
std::string python_type_name(const Json& value) {
    if (value.is_string()) {
        return "str";
    }
    if (value.is_boolean()) {
        return "bool";
    }
    if (value.is_number_float()) {
        return "float";
    }
    if (value.is_number()) {
        return "int";
    }
    if (value.is_array()) {
        return "list";
    }
    if (value.is_object()) {
        return "dict";
    }
    return "NoneType";
}

bool is_integer_text(std::string_view text) {
    const std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
    return !digits.empty() && digits.size() <= 18 && digits.find_first_not_of("0123456789") == std::string_view::npos;
}

// An integer argument: JSON integers and booleans, integral floats and numeric strings are all accepted;
// null means the default.
std::optional<int64_t> integer_argument(const Json& value, int64_t default_value) {
    if (value.is_null()) {
        return default_value;
    }
    if (value.is_boolean()) {
        return value.get<bool>() ? 1 : 0;
    }
    if (value.is_number_unsigned()) {
        const auto number = value.get<uint64_t>();
        return number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                                   : static_cast<int64_t>(number);
    }
    if (value.is_number_integer()) {
        return value.get<int64_t>();
    }
    if (value.is_number_float()) {
        const double number = value.get<double>();
        if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 9e18) {
            return static_cast<int64_t>(number);
        }
        return std::nullopt;
    }
    if (value.is_string()) {
        const std::string text(browser_text::strip(value.get<std::string>()));
        if (is_integer_text(text)) {
            return std::stoll(text);
        }
    }
    return std::nullopt;
}

const Json& argument(const Json& arguments, const char* name) {
    static const Json kNull;
    const auto it = arguments.find(name);
    return it == arguments.end() ? kNull : *it;
}

std::optional<std::string> text_argument(const Json& value) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_number() || value.is_boolean()) {
        return value.dump();
    }
    return std::nullopt;
}

std::optional<std::string> optional_source(const Json& arguments) {
    const Json& source = argument(arguments, "source");
    return source.is_string() ? std::optional<std::string>(source.get<std::string>()) : std::nullopt;
}

} // namespace

std::string Browser::call(std::string_view function_name, std::string_view json_arguments) {
    if (function_name.starts_with("browser.")) {
        function_name.remove_prefix(std::string_view("browser.").size());
    }
    const std::string input = browser_text::sanitize_utf8(json_arguments);
    Json arguments = Json::object();
    if (!browser_text::strip(input).empty()) {
        arguments = Json::parse(input, nullptr, /*allow_exceptions=*/false);
    }
    if (arguments.is_discarded() || !arguments.is_object()) {
        return error_reply("Invalid function arguments");
    }

    Result<std::string> reply = std::string();
    if (function_name == "search") {
        SearchArgs args;
        const std::optional<std::string> query = text_argument(argument(arguments, "query"));
        if (!query) {
            return error_reply("search() needs a `query` string");
        }
        args.query = *query;
        args.source = optional_source(arguments);
        reply = search(args);
    } else if (function_name == "open") {
        OpenArgs args;
        const Json& id = argument(arguments, "id");
        if (id.is_string() && !is_integer_text(browser_text::strip(id.get<std::string>()))) {
            args.id = id.get<std::string>();
        } else if (const std::optional<int64_t> link_id = integer_argument(id, -1)) {
            args.id = *link_id;
        } else {
            return fmt::format("Invalid link id `{}`.", id.is_string() ? id.get<std::string>() : id.dump());
        }
        const Json& cursor = argument(arguments, "cursor");
        const std::optional<int64_t> cursor_value = integer_argument(cursor, -1);
        if (!cursor_value) {
            return fmt::format("`cursor` should be an integer, not `{}`", python_type_name(cursor));
        }
        args.cursor = *cursor_value;
        for (const auto& [name, field] : {std::pair{"loc", &args.loc}, std::pair{"num_lines", &args.num_lines}}) {
            const std::optional<int64_t> value = integer_argument(argument(arguments, name), -1);
            if (!value) {
                return error_reply(fmt::format("`{}` should be an integer", name));
            }
            *field = *value;
        }
        const Json& view_source = argument(arguments, "view_source");
        if (view_source.is_boolean()) {
            args.view_source = view_source.get<bool>();
        } else if (view_source.is_number()) {
            args.view_source = view_source.get<double>() != 0;
        } else if (view_source.is_string()) {
            args.view_source = browser_text::to_lower(view_source.get<std::string>()) == "true";
        }
        args.source = optional_source(arguments);
        reply = open(args);
    } else if (function_name == "find") {
        FindArgs args;
        const std::optional<std::string> pattern = text_argument(argument(arguments, "pattern"));
        if (!pattern) {
            return error_reply("find() needs a `pattern` string");
        }
        args.pattern = *pattern;
        const Json& cursor = argument(arguments, "cursor");
        const std::optional<int64_t> cursor_value = integer_argument(cursor, -1);
        if (!cursor_value) {
            return fmt::format("`cursor` should be an integer, not `{}`", python_type_name(cursor));
        }
        args.cursor = *cursor_value;
        reply = find(args);
    } else {
        return error_reply(fmt::format("Unknown function: {}", function_name));
    }
    return reply.ok() ? std::move(reply).value() : reply.error().message();
}

} // namespace tllm::tools
