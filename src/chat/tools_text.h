// Rendering of tool declarations: JSON schema -> harmony's TypeScript-like form, and the "# Tools" section.
#pragma once

#include "chat/message.h"

#include <string>

namespace tllm {

// harmony's json_schema_to_typescript: `indent` prefixes every line the schema opens.
std::string json_schema_to_typescript(const nlohmann::ordered_json& schema, const std::string& indent);

// "# Tools\n\n## ns\n..." for the namespaces in name order (harmony's template_tools_section).
std::string render_tools_section(const ToolNamespaces& namespaces);

} // namespace tllm
