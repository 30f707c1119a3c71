/* occlum-studio TEST DOUBLE: the version header of the fake Occlum tree under test/occlum-double.
   The double emulates the observable behaviour of Occlum 0.31.0's CLI (specs/occlum-cli-config.md). */
#ifndef _OCCLUM_VERSION_H_
#define _OCCLUM_VERSION_H_

#define OCCLUM_MAJOR_VERSION    0
#define OCCLUM_MINOR_VERSION    31
#define OCCLUM_PATCH_VERSION    0

#endif
