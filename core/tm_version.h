/* The project's version: the one place it is written (CMakeLists.txt reads
 * it for project(), the packages and the .pc files). */
#ifndef TM_VERSION_H
#define TM_VERSION_H

#define TM_VERSION_STRING "0.1.0"

#endif
