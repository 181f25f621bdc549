// apply_patch: plan every operation (check paths, read files, match hunks, compute new contents) before the first
// change, then make the changes in one transaction. The reference reads and writes file by file, so a failure
// in the third file leaves the first two changed.
#include "tools/patch/apply_patch.h"

#include "core/check.h"
#include "tools/patch/workspace_files.h"

#include <algorithm>

namespace tllm::tools {
namespace {

using patch_detail::FileLocation;
using patch_detail::FileTransaction;
using patch_detail::SharedFd;
using patch_detail::Workspace;

struct PlannedWrite {
    FileLocation location;
    std::string content;
    std::optional<struct stat> mode_source; // the file replaced or moved: its mode and owner carry over
    bool replaces_existing = false;
};

struct Plan {
    std::vector<PlannedWrite> writes;
    std::vector<FileLocation> removals;
    PatchSummary summary;
};

std::string_view operation_name(PatchOperationKind kind) {
    switch (kind) {
    case PatchOperationKind::kAdd:
        return "Add File";
    case PatchOperationKind::kDelete:
        return "Delete File";
    case PatchOperationKind::kUpdate:
        return "Update File";
    }
    TLLM_UNREACHABLE();
}

class Planner {
  public:
    Planner(const Workspace& workspace, const ApplyPatchOptions& options) : workspace_(workspace), options_(options) {}

    Status plan(const PatchOperation& operation) {
        switch (operation.kind) {
        case PatchOperationKind::kAdd:
            return plan_add(operation);
        case PatchOperationKind::kDelete:
            return plan_delete(operation);
        case PatchOperationKind::kUpdate:
            return plan_update(operation);
        }
        TLLM_UNREACHABLE();
    }

    Plan& result() { return plan_; }

  private:
    Status check_size(const FileLocation& location, size_t size) const {
        if (size > options_.max_file_bytes) {
            return make_error(ErrorCode::kInvalidArgument,
                              "the new {} would be {} bytes, more than the {} bytes apply_patch writes", location.path,
                              size, options_.max_file_bytes);
        }
        return {};
    }

    // Where a new file goes: its directories may be missing, its name must be free.
    Result<FileLocation> locate_new_file(const std::string& path) const {
        TLLM_ASSIGN_OR_RETURN(FileLocation location, workspace_.locate(path, /*may_create=*/true));
        TLLM_RETURN_IF_ERROR(workspace_.check_absent(location));
        return location;
    }

    Status plan_add(const PatchOperation& operation) {
        TLLM_ASSIGN_OR_RETURN(FileLocation location, locate_new_file(operation.path));
        TLLM_RETURN_IF_ERROR(check_size(location, operation.new_content.size()));
        plan_.writes.push_back({std::move(location), operation.new_content, std::nullopt, false});
        plan_.summary.added.push_back(operation.path);
        return {};
    }

    Status plan_delete(const PatchOperation& operation) {
        TLLM_ASSIGN_OR_RETURN(FileLocation location, workspace_.locate(operation.path, /*may_create=*/false));
        TLLM_RETURN_IF_ERROR(workspace_.check_regular_file(location));
        plan_.removals.push_back(std::move(location));
        plan_.summary.deleted.push_back(operation.path);
        return {};
    }

    Status plan_update(const PatchOperation& operation) {
        TLLM_ASSIGN_OR_RETURN(FileLocation location, workspace_.locate(operation.path, /*may_create=*/false));
        struct stat status {};
        TLLM_ASSIGN_OR_RETURN(std::string original,
                              workspace_.read_regular_file(location, options_.max_file_bytes, status));
        bytes_read_ += original.size();
        if (bytes_read_ > options_.max_total_file_bytes) {
            return make_error(ErrorCode::kInvalidArgument,
                              "the files this patch updates hold more than {} bytes together, the most apply_patch "
                              "edits at once",
                              options_.max_total_file_bytes);
        }
        TLLM_ASSIGN_OR_RETURN(UpdatedText updated, apply_hunks(original, operation.hunks));
        plan_.summary.fuzz_level = std::max(plan_.summary.fuzz_level, updated.fuzz_level);
        TLLM_RETURN_IF_ERROR(check_size(location, updated.text.size()));
        if (!operation.move_to) {
            plan_.writes.push_back({std::move(location), std::move(updated.text), status, true});
            plan_.summary.updated.push_back(operation.path);
            return {};
        }
        TLLM_ASSIGN_OR_RETURN(FileLocation destination, locate_new_file(*operation.move_to));
        plan_.writes.push_back({std::move(destination), std::move(updated.text), status, false});
        plan_.removals.push_back(std::move(location));
        plan_.summary.moved.push_back({operation.path, *operation.move_to});
        return {};
    }

    const Workspace& workspace_;
    const ApplyPatchOptions& options_;
    Plan plan_;
    size_t bytes_read_ = 0;
};

Status write_plan(const Plan& plan, const ApplyPatchOptions& options) {
    FileTransaction transaction(options.before_filesystem_step);
    auto abandon = [&transaction](const Error& error) -> Status {
        const std::string failures = transaction.roll_back();
        if (failures.empty()) {
            return error;
        }
        return make_error(error.code(), "{}; undoing the patch also failed, the workspace is changed: {}",
                          error.message(), failures);
    };
    for (const PlannedWrite& write : plan.writes) {
        Result<SharedFd> directory = transaction.make_directories(write.location);
        if (!directory.ok()) {
            return abandon(directory.error());
        }
        const struct stat* mode_source = write.mode_source ? &*write.mode_source : nullptr;
        if (Status staged = transaction.stage_write(*directory, write.location, write.content, mode_source,
                                                    write.replaces_existing);
            !staged.ok()) {
            return abandon(staged.error());
        }
    }
    for (const FileLocation& removal : plan.removals) {
        transaction.stage_removal(removal);
    }
    return transaction.commit();
}

} // namespace

Result<PatchSummary> apply_patch(const std::filesystem::path& workspace_root,
                                 std::string_view patch_text,
                                 const ApplyPatchOptions& options) {
    if (patch_text.size() > options.max_patch_bytes) {
        return make_error(ErrorCode::kInvalidArgument,
                          "the patch is {} bytes, more than the {} bytes apply_patch takes", patch_text.size(),
                          options.max_patch_bytes);
    }
    TLLM_ASSIGN_OR_RETURN(Patch patch, parse_patch(patch_text));
    if (patch.operations.size() > options.max_operations) {
        return make_error(ErrorCode::kInvalidArgument,
                          "the patch has {} file operations, more than the {} apply_patch makes at once; split it",
                          patch.operations.size(), options.max_operations);
    }
    TLLM_ASSIGN_OR_RETURN(Workspace workspace, Workspace::open(workspace_root));
    Planner planner(workspace, options);
    for (const PatchOperation& operation : patch.operations) {
        if (Status planned = planner.plan(operation); !planned.ok()) {
            return planned.error().with_context(fmt::format("patch line {}: {} {}", operation.line_number,
                                                            operation_name(operation.kind), operation.path));
        }
    }
    Plan& plan = planner.result();
    TLLM_RETURN_IF_ERROR(write_plan(plan, options));
    return std::move(plan.summary);
}

} // namespace tllm::tools
