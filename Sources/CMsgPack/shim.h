#ifndef SKYNET_CMSGPACK_SHIM_H
#define SKYNET_CMSGPACK_SHIM_H
// The whole C API of libmsgpack-c: packer, unpacker, objects, timestamps.
#include <msgpack.h>
#endif
