# Vega, Vega-Lite and vega-embed, concatenated into one script that reports inline
# so a report.html renders its charts offline. Versions are pinned by
# web/package.json + web/package-lock.json and installed with `npm ci` into the
# build tree (never into web/).
#
# Included from CMakeLists.txt with LOUPE_WEB_DIR and LOUPE_VEGA_BUNDLE set, it
# defines the target loupe_vega_bundle and sets LOUPE_VEGA_AVAILABLE. Whether
# charts are built is decided here by npm's presence alone; if `npm ci` fails
# later (offline machine, registry down) the build still succeeds with an empty
# bundle and reports fall back to tables. Delete the bundle to retry.
#
# The same file doubles as the build-time script (cmake -P) that does the work.

if(CMAKE_SCRIPT_MODE_FILE)
  # ---- build time: cmake -DNPM=... -DWEB_DIR=... -DWORK_DIR=... -DBUNDLE=... -P vega.cmake
  foreach(var NPM WEB_DIR WORK_DIR BUNDLE)
    if(NOT DEFINED ${var})
      message(FATAL_ERROR "vega.cmake: ${var} not set")
    endif()
  endforeach()
  file(MAKE_DIRECTORY "${WORK_DIR}")
  foreach(f package.json package-lock.json)
    configure_file("${WEB_DIR}/${f}" "${WORK_DIR}/${f}" COPYONLY)
  endforeach()
  # --prefer-offline reuses npm's cache (integrity-checked against the lock file),
  # so rebuilds do not need the network.
  execute_process(
    COMMAND "${NPM}" ci --no-audit --no-fund --prefer-offline --loglevel=error
    WORKING_DIRECTORY "${WORK_DIR}"
    RESULT_VARIABLE npm_result
    OUTPUT_VARIABLE npm_output
    ERROR_VARIABLE npm_output
    TIMEOUT 900)
  set(parts
      "${WORK_DIR}/node_modules/vega/build/vega.min.js"
      "${WORK_DIR}/node_modules/vega-lite/build/vega-lite.min.js"
      "${WORK_DIR}/node_modules/vega-embed/build/vega-embed.min.js")
  set(missing "")
  foreach(p ${parts})
    if(NOT EXISTS "${p}")
      list(APPEND missing "${p}")
    endif()
  endforeach()
  if(NOT npm_result EQUAL 0 OR missing)
    message(WARNING
      "loupe: could not install the Vega libraries with npm (${npm_result}); reports will show chart data "
      "as tables. Delete ${BUNDLE} and rebuild to retry.\n${npm_output}\nmissing: ${missing}")
    file(WRITE "${BUNDLE}" "")
    return()
  endif()
  # Order matters: vega-lite's UMD wrapper reads the global `vega`, vega-embed reads both.
  set(tmp "${BUNDLE}.tmp")
  file(WRITE "${tmp}" "")
  foreach(p ${parts})
    file(READ "${p}" content)
    file(APPEND "${tmp}" "${content}\n;\n")
  endforeach()
  file(RENAME "${tmp}" "${BUNDLE}")
  return()
endif()

# ---- configure time
option(LOUPE_VEGA "Inline Vega charts into reports (needs npm at build time)" ON)
set(LOUPE_VEGA_AVAILABLE OFF)
if(LOUPE_VEGA)
  find_program(LOUPE_NPM npm)
endif()
if(LOUPE_VEGA AND LOUPE_NPM)
  add_custom_command(
    OUTPUT "${LOUPE_VEGA_BUNDLE}"
    COMMAND "${CMAKE_COMMAND}" "-DNPM=${LOUPE_NPM}" "-DWEB_DIR=${LOUPE_WEB_DIR}" "-DWORK_DIR=${CMAKE_BINARY_DIR}/web"
            "-DBUNDLE=${LOUPE_VEGA_BUNDLE}" -P "${CMAKE_CURRENT_LIST_FILE}"
    DEPENDS "${LOUPE_WEB_DIR}/package.json" "${LOUPE_WEB_DIR}/package-lock.json" "${CMAKE_CURRENT_LIST_FILE}"
    COMMENT "Installing pinned Vega libraries with npm ci and bundling them"
    VERBATIM)
  add_custom_target(loupe_vega_bundle DEPENDS "${LOUPE_VEGA_BUNDLE}")
  set(LOUPE_VEGA_AVAILABLE ON)
  message(STATUS "loupe: Vega charts will be inlined (npm: ${LOUPE_NPM})")
else()
  message(STATUS "loupe: npm not found (or LOUPE_VEGA=OFF): reports show chart data as tables")
endif()
