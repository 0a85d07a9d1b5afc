# Debian packages with `cpack -G DEB` (included last by the top-level
# CMakeLists.txt). scripts/build-deb.sh configures a build for /usr and runs
# it. One package per install component:
#
#   libsafereasm0               lib     libsafereasm.so.0*  (run time)
#   libsafereasm-dev            dev     header, .so link, .a, safereasm.pc,
#                                       CMake package
#   safereasm-pcap              tool    the tool (core linked in statically)
#   safereasm-wireshark-plugin  plugin  safereasm.so in Wireshark's global
#                                       plugin folder
#
# The library is split as libpcap0.8/libpcap0.8-dev and libnghttp2-14/
# libnghttp2-dev are: programs need only the soname package, a new soname
# can be installed beside the old one, and the plugin and the tool need
# neither (they carry the core statically).
#
# The plugin loads only into the Wireshark major.minor it was built for
# (its plugin_want_major/minor; libwireshark16 is the 4.0 series), and it
# may use symbols of the 4.0.x it was compiled against, so it depends on
# libwireshark16 (>= that 4.0.x) and (<< 4.1~).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME safereasm)
set(CPACK_PACKAGE_VENDOR "The safereasm authors")
set(CPACK_PACKAGE_CONTACT "The safereasm authors <safereasm@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# DESTDIR staging: install(CODE) rules (safereasm.pc, the plugin folder)
# then see the real prefix /usr in CMAKE_INSTALL_PREFIX.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev tool plugin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# shlibs and the ldconfig trigger for the package with the soname.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libsafereasm0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_DESCRIPTION "safe, bounded TCP stream reassembly - shared library
libsafereasm reassembles TCP streams with hard memory bounds: a connection
table with a limit, out-of-order data in pages with hard caps, idle
timeouts, thread safety, and an error code for every failure.")

set(_sr_debver "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsafereasm-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# pkg-config --cflags safereasm needs glib-2.0.pc (Requires.private).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libsafereasm0 (= ${_sr_debver}), libglib2.0-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_DESCRIPTION "safe, bounded TCP stream reassembly - development files
The header safereasm.h, libsafereasm.so (link), the static libsafereasm.a,
safereasm.pc for pkg-config and the CMake package (find_package(safereasm),
target safereasm::safereasm).")

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME safereasm-pcap)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOL_DESCRIPTION "reassemble the TCP streams of pcap/pcapng files
safereasm-pcap reassembles every TCP stream of a capture with libsafereasm
(linked in) and prints one line per direction, or writes the streams.")

set(CPACK_DEBIAN_PLUGIN_PACKAGE_NAME safereasm-wireshark-plugin)
set(CPACK_DEBIAN_PLUGIN_PACKAGE_SECTION net)
if(WIRESHARK_VERSION)
  string(REGEX MATCH "^[0-9]+\\.[0-9]+\\.[0-9]+" _sr_wsv "${WIRESHARK_VERSION}")
  string(REGEX REPLACE "^([0-9]+)\\..*" "\\1" _sr_wsmaj "${WIRESHARK_VERSION}")
  string(REGEX REPLACE "^[0-9]+\\.([0-9]+).*" "\\1" _sr_wsmin "${WIRESHARK_VERSION}")
  math(EXPR _sr_wsmin1 "${_sr_wsmin} + 1")
  # The package that ships the libwireshark we built against (its soname
  # differs per release: libwireshark16 for 4.0, 18 for 4.4, 19 for 4.6).
  set(_sr_libws libwireshark16)
  find_library(_sr_libws_path wireshark HINTS ${WIRESHARK_LIBRARY_DIRS})
  if(_sr_libws_path)
    get_filename_component(_sr_libws_real "${_sr_libws_path}" REALPATH)
    execute_process(COMMAND dpkg-query -S "${_sr_libws_real}" OUTPUT_VARIABLE _sr_owner
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_sr_owner MATCHES "^(libwireshark[0-9]+)[:]")
      set(_sr_libws "${CMAKE_MATCH_1}")
    endif()
  endif()
  set(CPACK_DEBIAN_PLUGIN_PACKAGE_DEPENDS
      "${_sr_libws} (>= ${_sr_wsv}), ${_sr_libws} (<< ${_sr_wsmaj}.${_sr_wsmin1}~)")
endif()
set(CPACK_DEBIAN_PLUGIN_PACKAGE_RECOMMENDS "tshark | wireshark")
set(CPACK_DEBIAN_PLUGIN_DESCRIPTION "Wireshark ${SR_WS_MAJMIN} plugin: safe, bounded TCP stream reassembly
A post-dissector (filter prefix safereasm) that feeds every TCP segment to
libsafereasm and shows the reassembled data, gaps, overlaps, limit hits and
statistics as fields, expert info and Statistics > Safe TCP Reassembly.
Installed into Wireshark's global plugin folder.")

include(CPack)
