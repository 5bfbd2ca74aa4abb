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
  # Link with lld when the compiler can use it: linking ~60 test and bench binaries against the
  # static module libraries is a minute of CI with ld.bfd and a third of that with lld. Same
  # objects, same binaries; falls back to the default linker where lld is missing.
  include(CheckLinkerFlag)
  check_linker_flag(CXX -fuse-ld=lld SWARMKV_HAVE_LLD)
  if(SWARMKV_HAVE_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
endfunction()

# Test and benchmark sources get line tables only (-g1): enough for sanitizer reports, backtraces
# and profiles, and 30-40% less compile time than full -g on a GoogleTest-heavy file. The
# libraries and the swarmkv binary keep the build type's full debug information.
set(SWARMKV_TEST_DEBUG_INFO -g1 CACHE STRING "Debug-info flag for test and benchmark sources")
# swarmkv_test_flags(NAME): for one target; swarmkv_test_directory_flags(): for every target of
# the calling directory and below (tests/, bench/).
function(swarmkv_test_flags name)
  if(CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Debug)$")
    target_compile_options(${name} PRIVATE ${SWARMKV_TEST_DEBUG_INFO})
  endif()
endfunction()
macro(swarmkv_test_directory_flags)
  if(CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Debug)$")
    add_compile_options(${SWARMKV_TEST_DEBUG_INFO})
  endif()
endmacro()

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
  swarmkv_test_flags(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} swarmkv_testing GTest::gtest GTest::gtest_main
                                        GTest::gmock Threads::Threads)
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
