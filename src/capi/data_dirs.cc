// The process's DataDirs, one per directory, shared by settee_db handles and settee_node (capi_internal.h).
#include <filesystem>
#include <map>
#include <mutex>

#include "capi/capi_internal.h"

namespace settee::capi {

std::shared_ptr<DataDir> dataDir(const std::string& dir, const DatabaseOptions& defaults) {
  static std::mutex mu;
  static auto* dirs = new std::map<std::string, std::weak_ptr<DataDir>>;  // never destroyed: used at exit
  std::error_code ec;
  std::string key = std::filesystem::weakly_canonical(std::filesystem::absolute(dir, ec), ec).string();
  if (key.empty()) key = dir;
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = dirs->begin(); it != dirs->end();)
    it = it->second.expired() ? dirs->erase(it) : std::next(it);
  if (auto found = (*dirs)[key].lock()) return found;
  auto made = std::make_shared<DataDir>(key, defaults);
  (*dirs)[key] = made;
  return made;
}

}  // namespace settee::capi
