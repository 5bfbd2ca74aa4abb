# Helpers shared by every module's CMakeLists.txt.

function(swarmkv_setup_flags)
  add_compile_options(-Wall -Wextra -Wno-unused-parameter -fno-omit-frame-pointer)
  if(SWARMKV_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
  endif()
  if(SWARMKV_FUZZ)
    # Instrument every library for coverage; only the fuzz targets link the libFuzzer main.
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
    add_link_options(-fsanitize=address,undefined)
  endif()
  if(SWARMKV_TSAN)
    add_compile_options(-fsanitize=thread)
    add_link_options(-fsanitize=thread)
  endif()
endfunction()

# swarmkv_library(NAME SOURCES a.cc b.cc DEPS swarmkv_base ...)
# A static library for one module; include paths are relative to src/ ("base/status.h").
function(swarmkv_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# swarmkv_test(NAME SOURCES x_test.cc DEPS swarmkv_x [LABELS unit])
# One GoogleTest binary, its tests registered one by one with CTest. Label "unit" tests are the
# ones the sanitizer build runs; "slow" and "integration" tests are left to the normal build.
function(swarmkv_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} swarmkv_testing GTest::gtest GTest::gtest_main
                                        GTest::gmock Threads::Threads)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
