# The chat page (web/): bundled by esbuild (web/build.mjs) at build time and embedded in the binary as a generated
# .cpp (cmake/embed_files.cmake), so `tritonllm serve` needs no files and no network to serve it.
# tllm_web_assets(TARGET) makes the static library TARGET that defines tllm::server::embedded_web_assets().
function(tllm_web_assets target)
  set(web "${PROJECT_SOURCE_DIR}/web")
  find_program(TLLM_NODE node)
  if(NOT TLLM_NODE OR NOT EXISTS "${web}/node_modules/esbuild/package.json"
     OR NOT EXISTS "${web}/node_modules/marked/package.json")
    message(FATAL_ERROR "The chat page (web/) is bundled from npm packages that are not installed: run "
                        "scripts/install-deps.sh (it runs `npm ci` in web/; needs node and npm).")
  endif()
  file(GLOB sources CONFIGURE_DEPENDS "${web}/src/*")
  set(dist "${CMAKE_CURRENT_BINARY_DIR}/web_dist")
  set(generated "${CMAKE_CURRENT_BINARY_DIR}/web_assets.cpp")
  add_custom_command(
    OUTPUT "${generated}"
    COMMAND "${TLLM_NODE}" "${web}/build.mjs" "${dist}"
    COMMAND "${CMAKE_COMMAND}" -DINPUT_DIR=${dist} -DOUTPUT=${generated} -DHEADER=server/static_assets.h
            -DFUNCTION=tllm::server::embedded_web_assets -P "${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake"
    DEPENDS ${sources} "${web}/build.mjs" "${web}/package-lock.json" "${PROJECT_SOURCE_DIR}/cmake/embed_files.cmake"
    COMMENT "chat page: esbuild bundle, embedded"
    VERBATIM)
  add_library(${target} STATIC "${generated}")
  target_include_directories(${target} PRIVATE "${PROJECT_SOURCE_DIR}/src")
endfunction()
