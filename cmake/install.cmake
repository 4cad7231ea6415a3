# Installing Mainstream: the command, libmainstream (shared and static), the public
# headers under include/mainstream/, mainstream.pc, a CMake package config
# (find_package(mainstream) -> mainstream::mainstream), the man page mainstream(1) and
# the bash completion. `cmake --install BUILD --prefix DIR` puts them under DIR.

# The header tree a program compiles against: include/mainstream.h and what it reaches,
# with includes rewritten to <mainstream/...> (cmake/public_headers.cmake).
file(GLOB_RECURSE MS_ALL_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/*.h)
set(MS_PUBLIC_INCLUDE ${PROJECT_BINARY_DIR}/public)
add_custom_command(OUTPUT ${MS_PUBLIC_INCLUDE}/mainstream/mainstream.h
  COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR} -DGENERATED=${PROJECT_BINARY_DIR}/generated
          -DOUT=${MS_PUBLIC_INCLUDE} -P ${PROJECT_SOURCE_DIR}/cmake/public_headers.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/include/mainstream.h ${MS_ALL_HEADERS}
          ${PROJECT_BINARY_DIR}/generated/mainstream_version.h ${PROJECT_SOURCE_DIR}/cmake/public_headers.cmake
  COMMENT "Public headers under ${MS_PUBLIC_INCLUDE}/mainstream")
add_custom_target(mainstream_headers ALL DEPENDS ${MS_PUBLIC_INCLUDE}/mainstream/mainstream.h)

# mainstream(1), from the command's own help texts (help2man; scripts/manpage.sh adds a
# section per command), so that it says what `mainstream CMD --help` says.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(MS_MANPAGE ${PROJECT_BINARY_DIR}/man/mainstream.1)
  add_custom_command(OUTPUT ${MS_MANPAGE}
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/manpage.sh $<TARGET_FILE:mainstream_cli> ${MS_MANPAGE}
    DEPENDS mainstream_cli ${PROJECT_SOURCE_DIR}/scripts/manpage.sh
    COMMENT "Man page ${MS_MANPAGE}")
  add_custom_target(mainstream_manpage ALL DEPENDS ${MS_MANPAGE})
  install(FILES ${MS_MANPAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man not found: no man page (scripts/setup.sh installs it)")
endif()

install(TARGETS mainstream_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mainstream mainstream_shared EXPORT mainstreamTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${MS_PUBLIC_INCLUDE}/mainstream DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/scripts/mainstream-completion.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME mainstream)

# pkg-config: relocatable (the prefix is found from the .pc file's own folder).
configure_file(${PROJECT_SOURCE_DIR}/cmake/mainstream.pc.in ${PROJECT_BINARY_DIR}/mainstream.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mainstream.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake: find_package(mainstream) gives mainstream::mainstream (shared) and
# mainstream::mainstream_static.
set_target_properties(mainstream PROPERTIES EXPORT_NAME mainstream_static)
set_target_properties(mainstream_shared PROPERTIES EXPORT_NAME mainstream)
include(CMakePackageConfigHelpers)
install(EXPORT mainstreamTargets NAMESPACE mainstream:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mainstream)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mainstreamConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mainstreamConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mainstream)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mainstreamConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mainstreamConfig.cmake ${PROJECT_BINARY_DIR}/mainstreamConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mainstream)
