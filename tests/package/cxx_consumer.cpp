// The C++ API as an app sees it once Settee is installed: settee/database.h and libsettee.a.
// Usage: cxx_consumer DIR — writes a document in a database under DIR and reads it back; exits 0 when it
// reads what it wrote.
#include <cstdio>
#include <string>

#include "settee/database.h"
#include "settee/version.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: cxx_consumer DIR\n");
    return 2;
  }
  settee::DataDir dir(argv[1]);
  auto db = dir.create("consumer");
  if (!db) {
    std::fprintf(stderr, "cxx_consumer: create: %s: %s\n", db.status().error(), db.status().reason().c_str());
    return 1;
  }
  auto written = (*db)->put(R"({"_id":"greeting","text":"hello from C++"})");
  if (!written) {
    std::fprintf(stderr, "cxx_consumer: put: %s\n", written.status().error());
    return 1;
  }
  auto read = (*db)->get("greeting");
  if (!read || read->find("hello from C++") == std::string::npos ||
      read->find(written->rev) == std::string::npos) {
    std::fprintf(stderr, "cxx_consumer: the document read back is not the one written\n");
    return 1;
  }
  std::printf("settee %s: %s\n", SETTEE_VERSION_STRING, read->c_str());
  return 0;
}
