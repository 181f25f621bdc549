// parse_patch against the grammar of gpt_oss/tools/apply_patch.md and the parser of apply_patch.py.
#include "tools/patch/apply_patch.h"

#include <gtest/gtest.h>

namespace tllm::tools {
namespace {

using Lines = std::vector<std::string>;

Patch parse_ok(const std::string& text) {
    Result<Patch> patch = parse_patch(text);
    EXPECT_TRUE(patch.ok()) << patch.error().to_string() << "\n" << text;
    return patch.ok() ? std::move(patch).value() : Patch{};
}

// The error message, which must exist and mention `expected`.
std::string parse_error(const std::string& text, const std::string& expected) {
    Result<Patch> patch = parse_patch(text);
    if (patch.ok()) {
        ADD_FAILURE() << "parsed, but should not have:\n" << text;
        return "";
    }
    EXPECT_EQ(patch.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(patch.error().message().find(expected), std::string::npos)
        << "expected \"" << expected << "\" in: " << patch.error().message();
    return patch.error().message();
}

TEST(ParsePatch, TheFullExampleOfTheSpecification) {
    // apply_patch.md: "A full patch can combine several operations".
    const Patch patch = parse_ok("*** Begin Patch\n"
                                 "*** Add File: hello.txt\n"
                                 "+Hello world\n"
                                 "*** Update File: src/app.py\n"
                                 "*** Move to: src/main.py\n"
                                 "@@ def greet():\n"
                                 "-print(\"Hi\")\n"
                                 "+print(\"Hello, world!\")\n"
                                 "*** Delete File: obsolete.txt\n"
                                 "*** End Patch\n");
    ASSERT_EQ(patch.operations.size(), 3u);

    const PatchOperation& add = patch.operations[0];
    EXPECT_EQ(add.kind, PatchOperationKind::kAdd);
    EXPECT_EQ(add.path, "hello.txt");
    EXPECT_EQ(add.new_content, "Hello world\n");
    EXPECT_EQ(add.line_number, 2u);

    const PatchOperation& update = patch.operations[1];
    EXPECT_EQ(update.kind, PatchOperationKind::kUpdate);
    EXPECT_EQ(update.path, "src/app.py");
    EXPECT_EQ(update.move_to, "src/main.py");
    ASSERT_EQ(update.hunks.size(), 1u);
    const PatchHunk& hunk = update.hunks[0];
    EXPECT_EQ(hunk.anchor, "def greet():");
    EXPECT_EQ(hunk.old_lines, Lines{"print(\"Hi\")"});
    ASSERT_EQ(hunk.chunks.size(), 1u);
    EXPECT_EQ(hunk.chunks[0].old_offset, 0u);
    EXPECT_EQ(hunk.chunks[0].deleted_lines, Lines{"print(\"Hi\")"});
    EXPECT_EQ(hunk.chunks[0].inserted_lines, Lines{"print(\"Hello, world!\")"});
    EXPECT_FALSE(hunk.end_of_file);
    EXPECT_EQ(hunk.line_number, 6u);

    EXPECT_EQ(patch.operations[2].kind, PatchOperationKind::kDelete);
    EXPECT_EQ(patch.operations[2].path, "obsolete.txt");
    EXPECT_EQ(patch.operations[2].line_number, 9u);
}

TEST(ParsePatch, ChunksAreRunsOfChangesBetweenContextLines) {
    // peek_next_section: a run of '-' and '+' lines is one chunk however they interleave; a context line ends it.
    const Patch patch = parse_ok("*** Begin Patch\n*** Update File: f\n@@\n a\n-b\n+B\n c\n+d\n-e\n+D\n-f\n"
                                 "*** End Patch");
    const PatchHunk& hunk = patch.operations.at(0).hunks.at(0);
    EXPECT_FALSE(hunk.anchor.has_value());
    EXPECT_EQ(hunk.old_lines, (Lines{"a", "b", "c", "e", "f"}));
    ASSERT_EQ(hunk.chunks.size(), 2u);
    EXPECT_EQ(hunk.chunks[0].old_offset, 1u);
    EXPECT_EQ(hunk.chunks[0].deleted_lines, Lines{"b"});
    EXPECT_EQ(hunk.chunks[0].inserted_lines, Lines{"B"});
    EXPECT_EQ(hunk.chunks[1].old_offset, 3u);
    EXPECT_EQ(hunk.chunks[1].deleted_lines, (Lines{"e", "f"}));
    EXPECT_EQ(hunk.chunks[1].inserted_lines, (Lines{"d", "D"}));
}

TEST(ParsePatch, HunkHeadersEmptyLinesAndEndOfFile) {
    const Patch patch = parse_ok("*** Begin Patch\n"
                                 "*** Update File: f\n"
                                 " first hunk needs no @@\n"
                                 "+x\n"
                                 "@@ class Foo:\n"
                                 "\n"       // an empty line is an empty context line
                                 "-  old\n" // the text after the marker keeps its indentation
                                 "@@   \n"  // a blank header has no anchor
                                 " tail\n"
                                 "+new tail\n"
                                 "*** End of File\n"
                                 "*** End Patch");
    const std::vector<PatchHunk>& hunks = patch.operations.at(0).hunks;
    ASSERT_EQ(hunks.size(), 3u);
    EXPECT_FALSE(hunks[0].anchor.has_value());
    EXPECT_EQ(hunks[0].old_lines, Lines{"first hunk needs no @@"});
    EXPECT_EQ(hunks[1].anchor, "class Foo:");
    EXPECT_EQ(hunks[1].old_lines, (Lines{"", "  old"}));
    EXPECT_EQ(hunks[1].chunks.at(0).old_offset, 1u);
    EXPECT_FALSE(hunks[1].end_of_file);
    EXPECT_FALSE(hunks[2].anchor.has_value());
    EXPECT_TRUE(hunks[2].end_of_file);
    EXPECT_EQ(hunks[2].chunks.at(0).inserted_lines, Lines{"new tail"});
}

TEST(ParsePatch, AddedFilesAndUpdatesWithoutHunks) {
    const Patch patch = parse_ok("*** Begin Patch\n*** Add File: empty.txt\n*** Add File: two.txt\n+one\n+\n"
                                 "*** Update File: a.txt\n*** Move to: b/a.txt\n*** End Patch\n");
    ASSERT_EQ(patch.operations.size(), 3u);
    EXPECT_EQ(patch.operations[0].new_content, "");
    EXPECT_EQ(patch.operations[1].new_content, "one\n\n");
    EXPECT_EQ(patch.operations[2].move_to, "b/a.txt");
    EXPECT_TRUE(patch.operations[2].hunks.empty());
}

TEST(ParsePatch, CrlfPatchesAndSurroundingBlankLinesParseLikeLf) {
    const std::string lf = "*** Begin Patch\n*** Update File: f.txt\n@@ x\n-a \n+b\n*** End Patch\n";
    std::string crlf;
    for (char c : lf) {
        crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    }
    const Patch from_lf = parse_ok(lf);
    const Patch from_crlf = parse_ok("\n  \r\n" + crlf + "\r\n\n");
    ASSERT_EQ(from_crlf.operations.size(), 1u);
    EXPECT_EQ(from_crlf.operations[0].hunks.at(0).old_lines, from_lf.operations[0].hunks.at(0).old_lines);
    EXPECT_EQ(from_crlf.operations[0].hunks.at(0).old_lines, Lines{"a "});
    EXPECT_EQ(from_crlf.operations[0].hunks.at(0).anchor, "x");
    EXPECT_EQ(from_crlf.operations[0].line_number, 4u); // numbered in the text as sent
}

TEST(ParsePatch, PathsAreNormalised) {
    const Patch patch = parse_ok("*** Begin Patch\n*** Delete File:  ./src//util/./x.py \n*** Update File: a\n"
                                 "*** Move to: ./a\n*** End Patch");
    EXPECT_EQ(patch.operations.at(0).path, "src/util/x.py");
    // Moving a file onto itself is updating it in place.
    EXPECT_FALSE(patch.operations.at(1).move_to.has_value());
}

TEST(ParsePatch, EnvelopeErrors) {
    parse_error("", "empty");
    parse_error(" \n\n\t\n", "empty");
    parse_error("*** Add File: a\n+x\n*** End Patch\n", "patch line 1: a patch must start with '*** Begin Patch'");
    parse_error("*** Begin Patch\n*** Add File: a\n+x\n", "does not end with '*** End Patch'");
    parse_error("*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\nmore\n", "patch line 5: text after");
    // chat.py declares "*** Begin Patch\n*** End Patch\n" as the default; applying it would do nothing, which a
    // model must hear rather than read "Done!".
    parse_error("*** Begin Patch\n*** End Patch\n", "no file operations");
}

TEST(ParsePatch, OperationErrorsNameTheLine) {
    parse_error("*** Begin Patch\n*** Frobnicate File: a\n*** End Patch", "patch line 2: expected '*** Add File: '");
    parse_error("*** Begin Patch\n*** Delete File: a\n+x\n*** End Patch", "patch line 3: expected");
    parse_error("*** Begin Patch\n*** Add File: a\n+ok\nmissing plus\n*** End Patch",
                "patch line 4: every line of an added file starts with '+'");
    parse_error("*** Begin Patch\n*** Add File: a\n+ok\n\n*** End Patch", "patch line 4");
    parse_error("*** Begin Patch\n*** Update File: a\n@@ x\n?bad\n*** End Patch",
                "patch line 4: a hunk line starts with ' ' (context), '-' (remove) or '+' (add)");
    parse_error("*** Begin Patch\n*** Update File: a\n@@ x\n a\n*** Move to: b\n*** End Patch",
                "patch line 5: unexpected line in a hunk");
    parse_error("*** Begin Patch\n*** Update File: a\n@@x\n a\n*** End Patch", "patch line 3: a hunk starts with");
    parse_error("*** Begin Patch\n*** Update File: a\n@@ one\n@@ two\n a\n*** End Patch",
                "patch line 3: the hunk has no lines");
    parse_error("*** Begin Patch\n*** Update File: a\n a\n*** End of File\n b\n*** End Patch",
                "patch line 5: expected '@@'");
    parse_error("*** Begin Patch\n*** Update File: a\n*** End of File\n*** End Patch", "patch line 3");
    parse_error("*** Begin Patch\n*** Update File: a\n*** Move to: \n*** End Patch", "patch line 3: Move to: ");
}

TEST(ParsePatch, AFileAppearsInOneOperationOnly) {
    // The reference's "Duplicate update/delete/add for file" errors, and the same file under two spellings.
    parse_error("*** Begin Patch\n*** Delete File: a\n*** Delete File: ./a\n*** End Patch",
                "patch line 3: a is already used by the operation at patch line 2");
    parse_error("*** Begin Patch\n*** Add File: a\n+x\n*** Update File: b\n*** Move to: a\n*** End Patch",
                "patch line 4: a is already used");
    parse_error("*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** Update File: b\n*** End Patch",
                "patch line 4: b is already used");
    // One file needing "d" as a directory while another operation makes "d" a file.
    parse_error("*** Begin Patch\n*** Add File: d\n+x\n*** Add File: d/e\n+y\n*** End Patch",
                "d/e needs d to be a directory");
}

TEST(ParsePatch, HostilePathsAreRefused) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/etc/passwd", "absolute"},
        {"~/.bashrc", "starts with '~'"},
        {"~user/x", "starts with '~'"},
        {"../outside.txt", "'..'"},
        {"a/../../b", "'..'"},
        {"a/..", "'..'"},
        {"a/b/", "ends with '/'"},
        {".", "the workspace itself"},
        {"./", "ends with '/'"},
        {std::string("a\x01") + "b", "control character"},
        {std::string("a\x7f"), "control character"},
        {std::string("nul\0byte", 8), "control character"},
        {"", "empty"},
    };
    for (const std::string marker : {"*** Add File: ", "*** Delete File: ", "*** Update File: "}) {
        for (const auto& [path, expected] : cases) {
            const std::string body = marker == std::string("*** Add File: ") ? "+x\n" : "";
            parse_error("*** Begin Patch\n" + marker + path + "\n" + body + "*** End Patch\n", expected);
        }
    }
    for (const auto& [path, expected] : cases) {
        parse_error("*** Begin Patch\n*** Update File: ok.txt\n*** Move to: " + path + "\n*** End Patch\n", expected);
    }
    const std::string message = parse_error("*** Begin Patch\n*** Add File: a\tb\n+x\n*** End Patch", "\\x09");
    EXPECT_EQ(message.find('\t'), std::string::npos) << "control characters are shown escaped";
}

} // namespace
} // namespace tllm::tools
