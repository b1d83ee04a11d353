# vitrina_module(NAME SOURCES ... [DEPS module ...] [LIBS target ...] [TESTS file ...])
#
# Declares one library per folder (vitrina_NAME). DEPS are other Vitrina
# modules this one may include and link; anything else is a layering error.
function(vitrina_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;LIBS;TESTS" ${ARGN})
  add_library(vitrina_${name} STATIC ${M_SOURCES})
  target_include_directories(vitrina_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  foreach(dep IN LISTS M_DEPS)
    target_link_libraries(vitrina_${name} PUBLIC vitrina_${dep})
  endforeach()
  target_link_libraries(vitrina_${name} PUBLIC ${M_LIBS})
  add_dependencies(vitrina_${name} vitrina_layering_check)

  # Allowed includes: this module plus the transitive closure of its deps.
  set(allowed ${name})
  foreach(dep IN LISTS M_DEPS)
    get_property(dep_allowed GLOBAL PROPERTY VITRINA_ALLOWED_${dep})
    list(APPEND allowed ${dep_allowed})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set_property(GLOBAL PROPERTY VITRINA_ALLOWED_${name} ${allowed})
  set_property(GLOBAL APPEND PROPERTY VITRINA_MODULES ${name})

  if(VITRINA_TESTS AND M_TESTS)
    add_executable(${name}_tests ${M_TESTS})
    target_link_libraries(${name}_tests PRIVATE vitrina_${name} GTest::gtest GTest::gtest_main GTest::gmock)
    target_compile_definitions(${name}_tests PRIVATE
      VITRINA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      VITRINA_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
    gtest_discover_tests(${name}_tests DISCOVERY_TIMEOUT 60)
  endif()
endfunction()

# A target every module depends on: re-checks the include graph on every
# build, so a forbidden include fails the build even without reconfiguring.
add_custom_target(vitrina_layering_check ALL
  COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR}/src
          -DRULES=${PROJECT_BINARY_DIR}/layering_rules.cmake
          -P ${PROJECT_SOURCE_DIR}/cmake/check_layering.cmake
  COMMENT "Checking module layering")

function(vitrina_finish_layering)
  get_property(modules GLOBAL PROPERTY VITRINA_MODULES)
  set(content "set(VITRINA_MODULES ${modules})\n")
  foreach(m IN LISTS modules)
    get_property(allowed GLOBAL PROPERTY VITRINA_ALLOWED_${m})
    string(APPEND content "set(VITRINA_ALLOWED_${m} ${allowed})\n")
  endforeach()
  file(WRITE ${PROJECT_BINARY_DIR}/layering_rules.cmake "${content}")
endfunction()
