# The toolbox and the chat's tool loop, on a tiny synthetic model with scripted (teacher-forced) replies.
tllm_add_test(tool_loop_tests SOURCES tool_loop_test.cpp LIBS tllm_tools tllm_tool_python)
