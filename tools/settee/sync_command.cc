// settee sync / settee status. Placeholder bodies: the cli part of issue 12 replaces them.
#include <cstdio>
#include <string>
#include <vector>

int syncCommand(const std::vector<std::string>&) {
  std::fprintf(stderr, "settee: sync is not built yet\n");
  return 2;
}

int statusCommand(const std::vector<std::string>&) {
  std::fprintf(stderr, "settee: status is not built yet\n");
  return 2;
}
