// A real `settee serve` whose data directory is a small tmpfs that fills up: writes answer 500
// {"error":"internal_server_error","reason":"... full"} (what CouchDB answers for enospc), never a
// success; every document acknowledged before stays readable while the disk is full and after a kill -9;
// and once space is freed the same node writes again. Mounting needs root (CI runs as root); elsewhere
// the test says why it did nothing.
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "live_server.h"

using settee::test::Json;
using settee::test::LiveServer;

namespace {

// A tmpfs of `size` mounted on a fresh directory for the life of this object.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& size) : path_(dir_.file("disk")) {
    std::filesystem::create_directories(path_);
    if (getuid() != 0) {
      why_ = "not root: cannot mount a tmpfs";
      return;
    }
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, ("size=" + size + ",mode=0700").c_str()) != 0) {
      why_ = std::string("mount tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallDisk() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return path_; }

 private:
  settee::test::TempDir dir_;
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

std::string docBody(int i) {
  return R"({"n":)" + std::to_string(i) + R"(,"pad":")" + std::string(16 * 1024, 'f') + "\"}";
}

bool isCouchError(const std::string& body) {
  Json j(body);
  return j.has("error") && j.has("reason");
}

}  // namespace

TEST_CASE(
    "Disk full over HTTP: writes answer 500 with a reason, acknowledged documents stay readable, "
    "and writing resumes once space is freed",
    "[http][diskfull]") {
  SmallDisk disk("3m");
  if (!disk.mounted()) {
    WARN("skipped: " << disk.why());
    return;
  }
  LiveServer node("", {"--data", disk.path() + "/data"});
  REQUIRE(node("PUT", "/db").status == 201);
  // Ballast, deleted later to free space.
  const std::string ballast = disk.path() + "/ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    out << std::string(768 * 1024, 'b');
    REQUIRE(out.good());
  }

  std::vector<std::pair<std::string, std::string>> acknowledged;  // (id, rev)
  settee::test::HttpReply refused;
  int i = 0;
  for (; i < 1000; ++i) {
    auto r = node("PUT", "/db/d" + std::to_string(i), docBody(i));
    if (r.status != 201) {
      refused = r;
      break;
    }
    acknowledged.emplace_back("d" + std::to_string(i), Json(r.body).str("rev"));
  }
  INFO("acknowledged before the disk filled: " << acknowledged.size() << "; refused with " << refused.status
                                               << " " << refused.body);
  REQUIRE(i < 1000);
  REQUIRE(acknowledged.size() > 10);
  CHECK(refused.status == 500);
  REQUIRE(isCouchError(refused.body));
  CHECK_THAT(Json(refused.body).str("reason"), Catch::Contains("full"));

  // While full: other writes fail with an error too, never with an ok row.
  auto bulk = node("POST", "/db/_bulk_docs",
                   R"({"docs":[{"_id":"bulk1","pad":")" + std::string(64 * 1024, 'x') + "\"}]}");
  if (bulk.status == 201) {
    CHECK(Json(bulk.body).root().at(0)["error"].error() == simdjson::SUCCESS);
  } else {
    CHECK(bulk.status == 500);
    CHECK(isCouchError(bulk.body));
  }
  auto att = node("PUT", "/db/withatt/a.bin", std::string(256 * 1024, 'a'),
                  {{"Content-Type", "application/octet-stream"}});
  CHECK(att.status == 500);
  CHECK(isCouchError(att.body));

  // Reads keep working, and nothing that failed is there.
  CHECK(node("GET", "/_up").status == 200);
  CHECK(node("GET", "/db").status == 200);
  for (const auto& [id, rev] : acknowledged) {
    auto r = node("GET", "/db/" + id);
    REQUIRE(r.status == 200);
    CHECK(Json(r.body).str("_rev") == rev);
  }
  CHECK(node("GET", "/db/d" + std::to_string(i)).status == 404);
  CHECK(node("GET", "/db/withatt").status == 404);
  CHECK(Json(node("GET", "/db").body)["doc_count"].get_uint64().value() == acknowledged.size());

  // Space freed: the same process writes again, the refused document included.
  std::filesystem::remove(ballast);
  auto again = node("PUT", "/db/d" + std::to_string(i), docBody(i));
  CHECK(again.status == 201);
  CHECK(
      node("PUT", "/db/withatt/a.bin", std::string(1024, 'a'), {{"Content-Type", "application/octet-stream"}})
          .status == 201);

  // And everything acknowledged survives a kill -9 taken after the disk was full.
  node.kill9();
  node.start();
  for (const auto& [id, rev] : acknowledged) CHECK(Json(node("GET", "/db/" + id).body).str("_rev") == rev);
  CHECK(node("GET", "/db/d" + std::to_string(i)).status == 200);
  CHECK(node("GET", "/db/withatt/a.bin").status == 200);
}
