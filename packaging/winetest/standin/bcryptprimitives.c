/*
 * bcryptprimitives.dll stand-in, for the tests that run the Windows build
 * under wine (packaging/winetest) and for nothing else. It is never shipped:
 * real Windows (8 and later) has the real DLL.
 *
 * Why it exists: the Go runtime (1.22 and later) fills its random numbers
 * with ProcessPrng from bcryptprimitives.dll, and wine 8 (Debian 12) has no
 * such DLL, so every Go .exe dies at start with "bcryptprimitives.dll not
 * found". This one exports ProcessPrng and fills the buffer through
 * RtlGenRandom (advapi32's SystemFunction036), which wine does have. The
 * test puts it into its own wine prefix's system32, never the user's.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
	while (size > 0) {
		ULONG n = size > 0x10000000 ? 0x10000000 : (ULONG)size;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		size -= n;
	}
	return TRUE;
}
