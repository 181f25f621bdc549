// apply_hunks: where hunks land and what the file becomes, per gpt_oss/tools/apply_patch.py (find_context's
// exact / rstrip / strip passes, the "@@ header" anchor, "*** End of File", _match_indentation).
#include "tools/patch/apply_patch.h"

#include <gtest/gtest.h>

namespace tllm::tools {
namespace {

// Parses "*** Update File: f" with `hunks` as its body and applies them to `original`.
Result<UpdatedText> update(const std::string& original, const std::string& hunks) {
    Result<Patch> patch = parse_patch("*** Begin Patch\n*** Update File: f\n" + hunks + "*** End Patch\n");
    if (!patch.ok()) {
        return patch.error();
    }
    return apply_hunks(original, patch->operations.at(0).hunks);
}

UpdatedText update_ok(const std::string& original, const std::string& hunks) {
    Result<UpdatedText> updated = update(original, hunks);
    EXPECT_TRUE(updated.ok()) << updated.error().to_string();
    return updated.ok() ? std::move(updated).value() : UpdatedText{};
}

TEST(ApplyHunks, ReplacesBetweenContextLines) {
    const UpdatedText updated = update_ok("a\nb\nc\n", "@@\n a\n-b\n+B1\n+B2\n c\n");
    EXPECT_EQ(updated.text, "a\nB1\nB2\nc\n");
    EXPECT_EQ(updated.fuzz_level, kFuzzExact);
}

TEST(ApplyHunks, SeveralHunksAndChunksApplyInOrder) {
    const std::string original = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
    const UpdatedText updated = update_ok(original, "@@\n 1\n-2\n+two\n 3\n+3.5\n 4\n"
                                                    "@@\n 8\n-9\n 10\n");
    EXPECT_EQ(updated.text, "1\ntwo\n3\n3.5\n4\n5\n6\n7\n8\n10\n");
}

TEST(ApplyHunks, EachHunkSearchesAfterThePreviousOne) {
    // The same context twice: the second hunk must find the second occurrence.
    EXPECT_EQ(update_ok("x\ny\nx\ny\n", "@@\n x\n-y\n+Y1\n@@\n x\n-y\n+Y2\n").text, "x\nY1\nx\nY2\n");
    // A hunk whose context only exists before the previous hunk does not match.
    Result<UpdatedText> backwards = update("a\nb\nc\n", "@@\n-c\n+C\n@@\n-a\n+A\n");
    ASSERT_FALSE(backwards.ok());
    EXPECT_NE(backwards.error().message().find("patch line 6"), std::string::npos) << backwards.error().message();
}

TEST(ApplyHunks, TheHeaderAnchorPicksWhereToSearch) {
    const std::string original = "def a():\n    return 1\n\ndef b():\n    return 1\n";
    EXPECT_EQ(update_ok(original, "@@ def b():\n-    return 1\n+    return 2\n").text,
              "def a():\n    return 1\n\ndef b():\n    return 2\n");
    // An anchor found nowhere is ignored (the reference only moves on when it finds it).
    EXPECT_EQ(update_ok(original, "@@ def missing():\n-    return 1\n+    return 2\n").text,
              "def a():\n    return 2\n\ndef b():\n    return 1\n");
    // Found ignoring surrounding whitespace: the hunk still lands after it, at the loosest fuzz level.
    const UpdatedText loose = update_ok(original, "@@   def b():  \n-    return 1\n+    return 2\n");
    EXPECT_EQ(loose.text, "def a():\n    return 1\n\ndef b():\n    return 2\n");
    EXPECT_EQ(loose.fuzz_level, kFuzzIgnoreSurroundingWhitespace);
}

TEST(ApplyHunks, AnAnchorAlreadyPassedIsNotSearchedAgain) {
    // Two hunks in the first class A: the second "@@ class A:" must not jump to the second class A.
    const std::string original = "class A:\n    x = 1\n    y = 1\nclass A:\n    x = 1\n    y = 1\n";
    EXPECT_EQ(update_ok(original, "@@ class A:\n-    x = 1\n+    x = 2\n@@ class A:\n-    y = 1\n+    y = 2\n").text,
              "class A:\n    x = 2\n    y = 2\nclass A:\n    x = 1\n    y = 1\n");
}

TEST(ApplyHunks, FuzzLevelOneIgnoresTrailingWhitespace) {
    const UpdatedText updated = update_ok("keep\nvalue = 1   \nend\n", "@@\n keep\n-value = 1\n+value = 2\n end\n");
    EXPECT_EQ(updated.text, "keep\nvalue = 2\nend\n");
    EXPECT_EQ(updated.fuzz_level, kFuzzIgnoreTrailingWhitespace);
}

TEST(ApplyHunks, FuzzLevelTwoIgnoresIndentationAndReindentsInsertedLines) {
    // The model dropped one level of indentation; the file's base indentation replaces the patch's.
    const std::string original = "class C:\n    def f(self):\n        if x:\n            return 1\n";
    const UpdatedText updated = update_ok(original, "@@\n def f(self):\n     if x:\n-        return 1\n"
                                                    "+        log(x)\n+        return 2\n");
    EXPECT_EQ(updated.text, "class C:\n    def f(self):\n        if x:\n            log(x)\n            return 2\n");
    EXPECT_EQ(updated.fuzz_level, kFuzzIgnoreSurroundingWhitespace);
    // A pure insertion is re-indented by the evidence of its context lines.
    EXPECT_EQ(update_ok(original, "@@\n     if x:\n+        pass\n").text,
              "class C:\n    def f(self):\n        if x:\n            pass\n            return 1\n");
}

TEST(ApplyHunks, ReindentingKeepsTabsAndGivesUpOnUnevenShifts) {
    // Base "" in the patch, "\t" in the file: tabs survive (strings are swapped, not columns counted).
    EXPECT_EQ(update_ok("\tfoo()\n\tbar()\n", "@@\n foo()\n-bar()\n+baz()\n").text, "\tfoo()\n\tbaz()\n");
    // The lines differ by different amounts: no single shift explains them, so the lines go in as written.
    EXPECT_EQ(update_ok("  a\n    b\n", "@@\n a\n-b\n+c\n").text, "  a\nc\n");
}

TEST(ApplyHunks, AnExactMatchAnywhereBeatsALooseMatchEarlier) {
    const UpdatedText updated = update_ok("a \nb\na\nb\n", "@@\n a\n-b\n+B\n");
    EXPECT_EQ(updated.text, "a \nb\na\nB\n");
    EXPECT_EQ(updated.fuzz_level, kFuzzExact);
}

TEST(ApplyHunks, EndOfFileHunksMatchAtTheEnd) {
    EXPECT_EQ(update_ok("a\nb\na\nb\n", "@@\n a\n-b\n+B\n*** End of File\n").text, "a\nb\na\nB\n");
    EXPECT_EQ(update_ok("a\nb\na\nb", "@@\n a\n-b\n+B\n*** End of File\n").text, "a\nb\na\nB");
    // Not at the end: like the reference, the hunk is still applied where its context is.
    EXPECT_EQ(update_ok("a\nb\nc\n", "@@\n a\n-b\n+B\n*** End of File\n").text, "a\nB\nc\n");
    // Appending: before the file's final newline, so the file still ends with one.
    EXPECT_EQ(update_ok("a\nb\n", "@@\n+c\n*** End of File\n").text, "a\nb\nc\n");
    EXPECT_EQ(update_ok("", "@@\n+c\n*** End of File\n").text, "c\n");
}

TEST(ApplyHunks, InsertionWithoutContextGoesToTheTop) {
    EXPECT_EQ(update_ok("a\n", "@@\n+first\n").text, "first\na\n");
}

TEST(ApplyHunks, TheFileKeepsItsLineEndings) {
    EXPECT_EQ(update_ok("a\nb", "@@\n a\n-b\n+c\n").text, "a\nc");
    EXPECT_EQ(update_ok("a\nb\n", "@@\n a\n-b\n").text, "a\n");
    const UpdatedText crlf = update_ok("a\r\nb\r\nc\r\n", "@@\n a\n-b\n+B\n c\n");
    EXPECT_EQ(crlf.text, "a\r\nB\r\nc\r\n");
    EXPECT_EQ(crlf.fuzz_level, kFuzzExact);
    // Mixed endings: lines are split on "\n" only, a "\r" is trailing whitespace of its line.
    const UpdatedText mixed = update_ok("a\r\nb\nc\r\n", "@@\n a\n-b\n+B\n");
    EXPECT_EQ(mixed.text, "a\r\nB\nc\r\n");
    EXPECT_EQ(mixed.fuzz_level, kFuzzIgnoreTrailingWhitespace);
}

TEST(ApplyHunks, ContextThatIsNotThereIsAnErrorShowingTheLines) {
    Result<UpdatedText> missing = update("a\nb\nc\n", "@@ b\n x\n-y\n+z\n");
    ASSERT_FALSE(missing.ok());
    const std::string& message = missing.error().message();
    EXPECT_NE(message.find("patch line 3"), std::string::npos) << message;
    EXPECT_NE(message.find("searched from line 3"), std::string::npos) << message; // after the anchor "b"
    EXPECT_NE(message.find("  |x\n  |y"), std::string::npos) << message;
    // Longer than the file, and an end-of-file hunk that matches nowhere.
    EXPECT_FALSE(update("a\n", "@@\n a\n b\n c\n-d\n").ok());
    Result<UpdatedText> at_end = update("a\n", "@@\n-zzz\n*** End of File\n");
    ASSERT_FALSE(at_end.ok());
    EXPECT_NE(at_end.error().message().find("end of the file"), std::string::npos);
}

TEST(ApplyHunks, AnUpdateWithoutHunksChangesNothing) {
    EXPECT_EQ(apply_hunks("same\r\ntext", {}).value().text, "same\r\ntext");
}

} // namespace
} // namespace tllm::tools
