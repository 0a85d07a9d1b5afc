# The install folder of the Wireshark plugin (included by plugin/CMakeLists.txt).
#
#   SR_PLUGIN_INSTALL_DIR set by you  -> exactly there; a relative path is
#                                        relative to the install prefix.
#   an install prefix P was given     -> P/${SR_PLUGIN_REL_DIR}
#     (-DCMAKE_INSTALL_PREFIX=P, `cmake --install --prefix P`, CPack)
#   no prefix given at all            -> the personal plugin folder,
#     ~/.local/lib/wireshark/plugins/4.0/epan of whoever configured
#
# SR_PLUGIN_REL_DIR is Wireshark's global plugin folder relative to
# Wireshark's own prefix (lib/x86_64-linux-gnu/wireshark/plugins/4.0/epan on
# Debian 12), so --prefix /usr installs into the global folder, and any other
# prefix P mirrors that layout: WIRESHARK_PLUGIN_DIR=P/lib/x86_64-linux-gnu/
# wireshark/plugins makes Wireshark load from it.
# DESTDIR only prepends a root and never changes the layout: with no prefix,
# DESTDIR=D puts the plugin at D/home/<you>/.local/..., not in your home.
#
# "No prefix given" is CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT at the
# first configure (remembered in SR__DEFAULT_INSTALL_PREFIX by the top-level
# CMakeLists.txt) and, at install
# time, CMAKE_INSTALL_PREFIX still equal to it (so `--prefix /usr/local`,
# the default itself, cannot be told apart from no --prefix).

find_package(PkgConfig REQUIRED)
pkg_get_variable(_sr_ws_plugindir wireshark plugindir)
pkg_get_variable(_sr_ws_prefix wireshark prefix)
string(LENGTH "${_sr_ws_prefix}/" _sr_len)
string(SUBSTRING "${_sr_ws_plugindir}" 0 ${_sr_len} _sr_head)
if(_sr_ws_prefix AND _sr_head STREQUAL "${_sr_ws_prefix}/")
  string(SUBSTRING "${_sr_ws_plugindir}" ${_sr_len} -1 _sr_rel)
else()
  set(_sr_rel "${CMAKE_INSTALL_LIBDIR}/wireshark/plugins/${SR_WS_MAJMIN}")
endif()
set(SR_PLUGIN_REL_DIR "${_sr_rel}/epan")
set(SR_PLUGIN_GLOBAL_DIR "${_sr_ws_plugindir}/epan")

if(SR__DEFAULT_INSTALL_PREFIX AND CMAKE_INSTALL_PREFIX STREQUAL SR__DEFAULT_INSTALL_PREFIX)
  set(_sr_auto "$ENV{HOME}/.local/lib/wireshark/plugins/${SR_WS_MAJMIN}/epan")
  set(_sr_personal ON)
else()
  set(_sr_auto "${SR_PLUGIN_REL_DIR}")
  set(_sr_personal OFF)
endif()
# The cache entry follows the automatic choice until you set it yourself.
# (Build folders configured before SR__PLUGIN_INSTALL_DIR_AUTO existed hold
# the old default, some ~/.local/lib/wireshark/... folder: automatic too.
# Only such a folder: at the first configure there is no CMakeCache.txt
# yet, and a personal folder given with -D, as setup.sh does, is yours.)
if(NOT DEFINED SR__PLUGIN_INSTALL_DIR_AUTO AND EXISTS "${CMAKE_BINARY_DIR}/CMakeCache.txt" AND
   SR_PLUGIN_INSTALL_DIR MATCHES "/\\.local/lib/wireshark/plugins/[0-9]+\\.[0-9]+/epan$")
  set(SR__PLUGIN_INSTALL_DIR_AUTO "${SR_PLUGIN_INSTALL_DIR}" CACHE INTERNAL "")
endif()
if(NOT DEFINED CACHE{SR_PLUGIN_INSTALL_DIR}
   OR SR_PLUGIN_INSTALL_DIR STREQUAL "${SR__PLUGIN_INSTALL_DIR_AUTO}"
   OR SR_PLUGIN_INSTALL_DIR STREQUAL "${_sr_auto}")
  set(SR_PLUGIN_INSTALL_DIR "${_sr_auto}" CACHE STRING
      "Folder that cmake --install puts safereasm.so into (relative: under the install prefix)" FORCE)
  set(SR__PLUGIN_INSTALL_DIR_AUTO "${_sr_auto}" CACHE INTERNAL "")
  set(_sr_explicit OFF)
else()
  # Set by you: keep the value; give a -D without a type its type and help.
  set(SR_PLUGIN_INSTALL_DIR "" CACHE STRING
      "Folder that cmake --install puts safereasm.so into (relative: under the install prefix)")
  # Defined, so a reconfigure never takes the value for an old default.
  if(NOT DEFINED SR__PLUGIN_INSTALL_DIR_AUTO)
    set(SR__PLUGIN_INSTALL_DIR_AUTO "${_sr_auto}" CACHE INTERNAL "")
  endif()
  set(_sr_explicit ON)
endif()

# sr_install_plugin(TARGET COMPONENT): the install rule for the plugin module.
function(sr_install_plugin target component)
  if(_sr_personal AND NOT _sr_explicit)
    # Decided at install time: `cmake --install --prefix P` (and CPack) set
    # another CMAKE_INSTALL_PREFIX only then.
    install(CODE "
      if(CMAKE_INSTALL_PREFIX STREQUAL \"${SR__DEFAULT_INSTALL_PREFIX}\")
        set(_sr_dest \"${SR_PLUGIN_INSTALL_DIR}\")
        message(STATUS \"safereasm: no install prefix given: the Wireshark plugin goes to the personal plugin folder\")
      else()
        set(_sr_dest \"\${CMAKE_INSTALL_PREFIX}/${SR_PLUGIN_REL_DIR}\")
      endif()
      file(INSTALL DESTINATION \"\${_sr_dest}\" TYPE MODULE
           FILES \"$<TARGET_FILE:${target}>\")
    " COMPONENT ${component})
  else()
    install(TARGETS ${target} LIBRARY DESTINATION "${SR_PLUGIN_INSTALL_DIR}"
            COMPONENT ${component})
  endif()
endfunction()
