// What the model is told about its tools, in the words gpt-oss was trained with (openai/gpt-oss: chat.py,
// tools/apply_patch.md, tools/python_docker/docker_tool.py, tools/simple_browser/simple_browser_tool.py).
#pragma once

#include "chat/message.h"

#include <string>
#include <string_view>

namespace tllm::tools {

// gpt-oss's tools/apply_patch.md: the instructions that follow the developer's own in the developer message.
extern const std::string_view kApplyPatchInstructions;

// The `apply_patch` function as chat.py declares it: one string parameter, the patch.
ToolDescription apply_patch_function();

// chat.py with -a: the developer's message, a newline when there is one, then apply_patch.md.
std::string developer_instructions_with_apply_patch(const std::string& developer_message);

// harmony's browser namespace with its last description line replaced by `sources=<source>`, as
// SimpleBrowserTool.tool_config does.
ToolNamespace browser_namespace_for_source(std::string_view source);

// The python namespace of gpt-oss's PythonTool: the "stateless" text (the code runs in a fresh sandbox each
// time, so the harmony library's "stateful Jupyter notebook" text would be false).
ToolNamespace stateless_python_namespace();

} // namespace tllm::tools
