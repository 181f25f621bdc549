# Writes the build stamp (cmake/build_stamp.cpp.in) at build time, so that the git commit is the one built even when
# CMake has not re-run since the last commit. configure_file leaves the output untouched when nothing changed, so an
# unchanged stamp compiles and links nothing.
#   cmake -DSOURCE_DIR=... -DOUTPUT=... -DVERSION=... -DBUILD_TYPE=... -DCOMPILER=... -DCUDA_TOOLKIT=...
#         [-DGIT_COMMIT=...] -P build_stamp.cmake
# GIT_COMMIT, when given, wins (a build from a source archive has no .git); else git is asked, else "unknown".
set(TLLM_VERSION "${VERSION}")
set(TLLM_BUILD_TYPE "${BUILD_TYPE}")
set(TLLM_COMPILER "${COMPILER}")
set(TLLM_CUDA_TOOLKIT "${CUDA_TOOLKIT}")
set(TLLM_GIT_COMMIT "unknown")
set(TLLM_GIT_DIRTY "false")
if(GIT_COMMIT)
  set(TLLM_GIT_COMMIT "${GIT_COMMIT}")
else()
  find_program(git_program git)
  if(git_program)
    execute_process(COMMAND "${git_program}" -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                    OUTPUT_VARIABLE commit RESULT_VARIABLE commit_result OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(commit_result EQUAL 0 AND commit MATCHES "^[0-9a-f]+$")
      set(TLLM_GIT_COMMIT "${commit}")
      execute_process(COMMAND "${git_program}" -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
                      OUTPUT_VARIABLE changes RESULT_VARIABLE status_result ERROR_QUIET)
      if(status_result EQUAL 0 AND NOT changes STREQUAL "")
        set(TLLM_GIT_DIRTY "true")
      endif()
    endif()
  endif()
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/build_stamp.cpp.in" "${OUTPUT}" @ONLY)
