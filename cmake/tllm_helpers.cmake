# tllm_add_test(NAME SOURCES... [LIBS ...] [LABELS ...])
# One gtest executable per test file; registered with ctest by test discovery.
include(GoogleTest)
function(tllm_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    TLLM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TLLM_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
    TLLM_BINARY="$<TARGET_FILE:tritonllm>")
  set(labels cpu)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${labels}" DISCOVERY_TIMEOUT 60)
endfunction()
