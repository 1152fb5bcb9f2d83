#ifndef SKYNET_CCRC32C_H
#define SKYNET_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has a CRC-32C instruction (x86-64 SSE4.2, or ARMv8 CRC32), else 0.
int skynet_crc32c_hardware_available(void);

/// Continues the CRC-32C register `crc` (already inverted by the caller) over `length`
/// bytes with the CPU's CRC-32C instruction. Call only when
/// `skynet_crc32c_hardware_available()` returned 1.
uint32_t skynet_crc32c_hardware(uint32_t crc, const void *bytes, size_t length);

#endif
