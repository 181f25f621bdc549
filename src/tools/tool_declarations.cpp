#include "tools/tool_declarations.h"

namespace tllm::tools {

// Verbatim (the model was trained on it), including the typographic characters.
const std::string_view kApplyPatchInstructions =
    R"(When requested to perform coding-related tasks, you MUST adhere to the following criteria when executing the task:

- Use `apply_patch` to edit files.
- If completing the user's task requires writing or modifying files:
  - Your code and final answer should follow these _CODING GUIDELINES_:
    - Avoid unneeded complexity in your solution. Minimize program size.
    - Keep changes consistent with the style of the existing codebase. Changes should be minimal and focused on the task.
    - NEVER add copyright or license headers unless specifically requested.
- Never implement function stubs. Provide complete working implementations.

§ `apply_patch` Specification

Your patch language is a stripped‑down, file‑oriented diff format designed to be easy to parse and safe to apply. You can think of it as a high‑level envelope:

*** Begin Patch
[ one or more file sections ]
*** End Patch

Within that envelope, you get a sequence of file operations.
You MUST include a header to specify the action you are taking.
Each operation starts with one of three headers:

*** Add File: <path> - create a new file. Every following line is a + line (the initial contents).
*** Delete File: <path> - remove an existing file. Nothing follows.
*** Update File: <path> - patch an existing file in place (optionally with a rename).

May be immediately followed by *** Move to: <new path> if you want to rename the file.
Then one or more “hunks”, each introduced by @@ (optionally followed by a hunk header).
Within a hunk each line starts with:

+ for inserted text,

- for removed text, or
  space ( ) for context.
  At the end of a truncated hunk you can emit *** End of File.

Patch := Begin { FileOp } End
Begin := "*** Begin Patch" NEWLINE
End := "*** End Patch" NEWLINE
FileOp := AddFile | DeleteFile | UpdateFile
AddFile := "*** Add File: " path NEWLINE { "+" line NEWLINE }
DeleteFile := "*** Delete File: " path NEWLINE
UpdateFile := "*** Update File: " path NEWLINE [ MoveTo ] { Hunk }
MoveTo := "*** Move to: " newPath NEWLINE
Hunk := "@@" [ header ] NEWLINE { HunkLine } [ "*** End of File" NEWLINE ]
HunkLine := (" " | "-" | "+") text NEWLINE

A full patch can combine several operations:

*** Begin Patch
*** Add File: hello.txt
+Hello world
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-print("Hi")
+print("Hello, world!")
*** Delete File: obsolete.txt
*** End Patch

It is important to remember:

- You must include a header with your intended action (Add/Delete/Update)
- You must prefix new lines with `+` even when creating a new file
)";

ToolDescription apply_patch_function() {
    ToolDescription function;
    function.name = "apply_patch";
    function.description = "Patch a file";
    nlohmann::ordered_json parameters;
    parameters["type"] = "string";
    parameters["description"] = "Formatted patch code";
    parameters["default"] = "*** Begin Patch\n*** End Patch\n";
    function.parameters = std::move(parameters);
    return function;
}

std::string developer_instructions_with_apply_patch(const std::string& developer_message) {
    std::string instructions = developer_message.empty() ? std::string() : developer_message + "\n";
    instructions += kApplyPatchInstructions;
    return instructions;
}

ToolNamespace browser_namespace_for_source(std::string_view source) {
    ToolNamespace browser = browser_tool_namespace();
    std::string& description = browser.description.value();
    const size_t last_line = description.rfind('\n');
    description.erase(last_line == std::string::npos ? 0 : last_line + 1);
    description += "sources=";
    description += source;
    return browser;
}

ToolNamespace stateless_python_namespace() {
    ToolNamespace python;
    python.name = "python";
    python.description =
        "Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. This "
        "tool should be used for internal reasoning, but not for code that is intended to be visible to the user "
        "(e.g. when creating plots, tables, or files).\n"
        "When you send a message containing python code to python, it will be executed in a stateless docker "
        "container, and the stdout of that process will be returned to you. You have to use print statements to "
        "access the output.";
    return python;
}

} // namespace tllm::tools
