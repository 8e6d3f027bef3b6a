# needle_forbid_link(TARGET FORBIDDEN): stops the configure step when TARGET
# links FORBIDDEN, directly or through any library below it. Call it once
# every target is defined: a library not defined yet cannot be followed.
function(needle_forbid_link target forbidden)
  set(pending ${target})
  set(seen)
  while(pending)
    list(POP_FRONT pending library)
    if(library IN_LIST seen OR NOT TARGET ${library})
      continue()  # generator expressions and plain library names end here
    endif()
    list(APPEND seen ${library})
    if(library STREQUAL forbidden)
      message(FATAL_ERROR "${target} links ${forbidden}")
    endif()
    get_target_property(direct ${library} LINK_LIBRARIES)
    get_target_property(interface ${library} INTERFACE_LINK_LIBRARIES)
    foreach(dependency IN LISTS direct interface)
      if(dependency)
        list(APPEND pending ${dependency})
      endif()
    endforeach()
  endwhile()
endfunction()
