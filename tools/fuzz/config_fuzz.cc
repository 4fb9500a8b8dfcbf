// The ini configuration (http/config.h). loadConfig() reads a path, so each input is written to an
// in-memory file (memfd) and read back through /proc/self/fd: no disk, no temporary names.
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "http/config.h"

using namespace settee;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("settee-config-fuzz", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, data, size, 0) == static_cast<ssize_t>(size));
  http::ServerConfig config;
  Status st = http::loadConfig(path, config);
  if (st) FUZZ_CHECK(config.port >= 0 && config.port < 65536 && config.revsLimit > 0);
  return 0;
}
