#include "chat/tools_text.h"

#include <fmt/format.h>
#include <unordered_set>

namespace tllm {
namespace {

using Json = nlohmann::ordered_json;

// Rust's str::lines(): split on '\n', drop one trailing '\r' per line, no empty last line.
std::vector<std::string> rust_lines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        lines.push_back(std::move(line));
        if (end == std::string::npos) {
            break;
        }
        start = end + 1;
    }
    return lines;
}

const Json* member(const Json& object, const char* key) {
    if (!object.is_object()) {
        return nullptr;
    }
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

const std::string* string_member(const Json& object, const char* key) {
    const Json* value = member(object, key);
    return value != nullptr && value->is_string() ? value->get_ptr<const std::string*>() : nullptr;
}

bool is_enum(const Json& schema) {
    const Json* values = member(schema, "enum");
    return values != nullptr && values->is_array() && !values->empty();
}

bool is_nullable(const Json& schema) {
    const Json* value = member(schema, "nullable");
    return value != nullptr && value->is_boolean() && value->get<bool>();
}

// serde_json's compact Display, which nlohmann's dump() matches for the values schemas use.
std::string compact(const Json& value) { return value.dump(); }

// "default: ..." as harmony writes it for properties: strings quoted (unescaped) unless the schema is an
// enum, where they are bare; other values as compact JSON.
std::string default_text(const Json& schema, const Json& value) {
    if (value.is_string() && !is_enum(schema)) {
        return fmt::format("default: \"{}\"", value.get<std::string>());
    }
    if (value.is_string()) {
        return fmt::format("default: {}", value.get<std::string>());
    }
    return fmt::format("default: {}", compact(value));
}

// Variants of a top-level oneOf: like default_text, but an enum's string default is JSON (quoted, escaped).
std::string top_level_default_text(const Json& schema, const Json& value) {
    if (value.is_string() && !is_enum(schema)) {
        return fmt::format("default: \"{}\"", value.get<std::string>());
    }
    return fmt::format("default: {}", compact(value));
}

std::string with_null(std::string type, const Json& schema) {
    if (is_nullable(schema) && type.find("null") == std::string::npos) {
        type += " | null";
    }
    return type;
}

std::string render_object(const Json& schema, const std::string& indent) {
    std::string out;
    if (const std::string* description = string_member(schema, "description")) {
        out += fmt::format("{}// {}\n", indent, *description);
    }
    out += "{\n";
    const Json* properties = member(schema, "properties");
    if (properties != nullptr && properties->is_object()) {
        std::unordered_set<std::string> required;
        if (const Json* list = member(schema, "required"); list != nullptr && list->is_array()) {
            for (const Json& item : *list) {
                if (item.is_string()) {
                    required.insert(item.get<std::string>());
                }
            }
        }
        for (const auto& [key, value] : properties->items()) {
            const char* optional = required.count(key) ? "" : "?";
            if (const std::string* title = string_member(value, "title")) {
                out += fmt::format("{}// {}\n{}//\n", indent, *title, indent);
            }
            const Json* one_of = member(value, "oneOf");
            if (one_of == nullptr) {
                if (const std::string* description = string_member(value, "description")) {
                    out += fmt::format("{}// {}\n", indent, *description);
                }
            }
            if (const Json* examples = member(value, "examples");
                examples != nullptr && examples->is_array() && !examples->empty()) {
                out += fmt::format("{}// Examples:\n", indent);
                for (const Json& example : *examples) {
                    if (example.is_string()) {
                        out += fmt::format("{}// - \"{}\"\n", indent, example.get<std::string>());
                    }
                }
            }
            if (one_of != nullptr && one_of->is_array()) {
                const std::string* property_description = string_member(value, "description");
                bool skip_description = false;
                if (property_description != nullptr && !one_of->empty()) {
                    const std::string* first = string_member(one_of->front(), "description");
                    skip_description = first != nullptr && *first == *property_description;
                }
                bool description_above = false;
                if (!skip_description && property_description != nullptr) {
                    out += fmt::format("{}// {}\n", indent, *property_description);
                    description_above = true;
                }
                if (const Json* default_value = member(value, "default")) {
                    out += fmt::format("{}// {}\n", indent, default_text(value, *default_value));
                }
                out += fmt::format("{}{}{}:\n", indent, key, optional);
                for (size_t i = 0; i < one_of->size(); ++i) {
                    const Json& variant = (*one_of)[i];
                    out += fmt::format("{} | ", indent);
                    out += with_null(json_schema_to_typescript(variant, indent + "   "), variant);
                    std::vector<std::string> comments;
                    const std::string* variant_description = string_member(variant, "description");
                    if (!(i == 0 && description_above) && variant_description != nullptr &&
                        (property_description == nullptr || *variant_description != *property_description)) {
                        comments.push_back(*variant_description);
                    }
                    if (const Json* default_value = member(variant, "default")) {
                        comments.push_back(default_text(variant, *default_value));
                    }
                    if (!comments.empty()) {
                        out += fmt::format(" // {}", fmt::join(comments, " "));
                    }
                    out += "\n";
                }
                out += fmt::format("{},\n", indent);
                continue;
            }
            out += fmt::format("{}{}{}: ", indent, key, optional);
            out += with_null(json_schema_to_typescript(value, indent + "    "), value);
            out += ",";
            if (one_of == nullptr) {
                if (const Json* default_value = member(value, "default")) {
                    out += " // " + default_text(value, *default_value);
                }
            }
            out += "\n";
        }
    }
    out += indent + "}";
    return out;
}

} // namespace

std::string json_schema_to_typescript(const Json& schema, const std::string& indent) {
    if (const Json* one_of = member(schema, "oneOf"); one_of != nullptr && one_of->is_array()) {
        std::string out;
        for (const Json& variant : *one_of) {
            out += fmt::format("\n{} | ", indent);
            out += with_null(json_schema_to_typescript(variant, indent + "   "), variant);
            std::vector<std::string> comments;
            if (const std::string* description = string_member(variant, "description")) {
                comments.push_back(*description);
            }
            if (const Json* default_value = member(variant, "default")) {
                comments.push_back(top_level_default_text(variant, *default_value));
            }
            if (!comments.empty()) {
                out += fmt::format(" // {}", fmt::join(comments, " "));
            }
        }
        return out;
    }
    const Json* type = member(schema, "type");
    if (type != nullptr && type->is_array()) {
        std::vector<std::string> names;
        for (const Json& item : *type) {
            if (item.is_string()) {
                names.push_back(item.get<std::string>() == "integer" ? "number" : item.get<std::string>());
            }
        }
        if (!names.empty()) {
            return fmt::format("{}", fmt::join(names, " | "));
        }
    }
    if (type == nullptr || !type->is_string()) {
        return "any";
    }
    const std::string& name = type->get_ref<const std::string&>();
    if (name == "object") {
        return render_object(schema, indent);
    }
    if (name == "string") {
        std::vector<std::string> values;
        if (const Json* list = member(schema, "enum"); list != nullptr && list->is_array()) {
            for (const Json& item : *list) {
                if (item.is_string()) {
                    values.push_back(fmt::format("\"{}\"", item.get<std::string>()));
                }
            }
        }
        return values.empty() ? std::string("string") : fmt::format("{}", fmt::join(values, " | "));
    }
    if (name == "number" || name == "integer") {
        return "number";
    }
    if (name == "boolean") {
        return "boolean";
    }
    if (name == "array") {
        const Json* items = member(schema, "items");
        return items != nullptr ? json_schema_to_typescript(*items, indent) + "[]" : std::string("Array<any>");
    }
    return "any";
}

std::string render_tools_section(const ToolNamespaces& namespaces) {
    std::vector<std::string> sections = {"# Tools"};
    for (const auto& [key, ns] : namespaces) {
        std::vector<std::string> lines = {fmt::format("## {}\n", ns.name)};
        if (ns.description) {
            for (const std::string& line : rust_lines(*ns.description)) {
                lines.push_back(ns.tools.empty() ? line : "// " + line);
            }
        }
        if (!ns.tools.empty()) {
            lines.push_back(fmt::format("namespace {} {{\n", ns.name));
            for (const ToolDescription& tool : ns.tools) {
                for (const std::string& line : rust_lines(tool.description)) {
                    lines.push_back("// " + line);
                }
                if (tool.parameters) {
                    lines.push_back(fmt::format("type {} = (_: {}) => any;\n", tool.name,
                                                json_schema_to_typescript(*tool.parameters, "")));
                } else {
                    lines.push_back(fmt::format("type {} = () => any;\n", tool.name));
                }
            }
            lines.push_back(fmt::format("}} // namespace {}", ns.name));
        }
        sections.push_back(fmt::format("{}", fmt::join(lines, "\n")));
    }
    return fmt::format("{}", fmt::join(sections, "\n\n"));
}

} // namespace tllm
