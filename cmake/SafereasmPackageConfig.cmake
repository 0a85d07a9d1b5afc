# Files that let other projects find an installed libsafereasm (included by
# core/CMakeLists.txt when the shared library is built), all in component
# "dev":
#   <libdir>/pkgconfig/safereasm.pc
#   <libdir>/cmake/safereasm/safereasm{Config,ConfigVersion,Targets}.cmake
include(CMakePackageConfigHelpers)

set(_sr_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/safereasm)
install(EXPORT safereasmTargets NAMESPACE safereasm::
  DESTINATION ${_sr_cmakedir} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/safereasmConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/safereasmConfig.cmake
  INSTALL_DESTINATION ${_sr_cmakedir})
# 0.x: a new minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/safereasmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/safereasmConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/safereasmConfigVersion.cmake
  DESTINATION ${_sr_cmakedir} COMPONENT dev)

# safereasm.pc is written at install time: `cmake --install --prefix P`
# changes the prefix only then, and the file must name P. Relative
# GNUInstallDirs paths are written relative to ${prefix}.
foreach(_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_d}}")
    set(_sr_pc_${_d} "${CMAKE_INSTALL_${_d}}")
  else()
    set(_sr_pc_${_d} "\${prefix}/${CMAKE_INSTALL_${_d}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_sr_pc_dest "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
else()
  set(_sr_pc_dest "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
install(CODE "
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(SR_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(SR_PC_LIBDIR [==[${_sr_pc_LIBDIR}]==])
  set(SR_PC_INCLUDEDIR [==[${_sr_pc_INCLUDEDIR}]==])
  configure_file(\"${PROJECT_SOURCE_DIR}/core/safereasm.pc.in\"
                 \"${PROJECT_BINARY_DIR}/pkgconfig/safereasm.pc\" @ONLY)
  file(INSTALL DESTINATION \"${_sr_pc_dest}\" TYPE FILE
       FILES \"${PROJECT_BINARY_DIR}/pkgconfig/safereasm.pc\")
" COMPONENT dev)
