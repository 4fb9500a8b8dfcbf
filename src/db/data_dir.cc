// settee::DataDir: databases as files under one directory, opened once and shared.
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "settee/database.h"

namespace settee {
namespace fs = std::filesystem;

namespace {
constexpr std::string_view kSuffix = ".settee";
// The longest suffix SQLite appends to a database's file name for its companions ("-journal"; the WAL's
// "-wal" and "-shm" are shorter). A name whose file fits but whose journal does not would create a
// database that can never commit, be opened again or be deleted.
constexpr std::string_view kLongestCompanion = "-journal";
// Most file systems (ext4, xfs, btrfs, tmpfs, APFS) allow 255 bytes in one file name.
constexpr size_t kMaxFileName = 255;
// Every file SQLite may leave beside a database, removed with it.
constexpr const char* kCompanions[] = {"", "-wal", "-shm", "-journal"};

// Database names may hold '/', which a file name cannot: it is written as "%2F" (and '%' never
// appears in a valid name, so the mapping is reversible).
std::string encodeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '/') out += "%2F";
    else out.push_back(c);
  }
  return out;
}

std::string decodeName(std::string_view file) {
  std::string out;
  for (size_t i = 0; i < file.size(); ++i) {
    if (file.substr(i, 3) == "%2F") {
      out.push_back('/');
      i += 2;
    } else {
      out.push_back(file[i]);
    }
  }
  return out;
}
}  // namespace

struct DataDir::Open {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Database>> dbs;
};

DataDir::DataDir(std::string path, DatabaseOptions defaults)
    : path_(std::move(path)), defaults_(defaults), open_(std::make_unique<Open>()) {
  // A directory made here is its owner's only (0700): the databases in it hold every document and the
  // users' password hashes. One that exists already keeps the mode its owner gave it.
  std::error_code ec;
  if (!fs::exists(path_, ec) && fs::create_directories(path_, ec))
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::replace, ec);
}

DataDir::~DataDir() = default;

bool DataDir::validName(std::string_view name) {
  if (name == "_users" || name == "_replicator" || name == "_global_changes") return true;
  if (name.empty() || name.size() > 238 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || std::string_view("_$()+-/").find(c) != std::string_view::npos;
  });
}

std::string DataDir::fileFor(const std::string& name) const {
  return (fs::path(path_) / (encodeName(name) + std::string(kSuffix))).string();
}

std::string DataDir::viewDirFor(const std::string& name) const {
  return (fs::path(path_) / ("." + encodeName(name) + "_design")).string();
}

static Status illegalName() {
  return {ErrorCode::IllegalDatabaseName,
          "Name: Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, "
          "and / are allowed. Must begin with a letter."};
}

// Checks what validName cannot: that the name, once encoded ('/' takes three bytes), makes a file name
// the file system accepts, with room for SQLite's companion files.
static Status checkName(const std::string& name) {
  if (!DataDir::validName(name)) return illegalName();
  size_t encoded = encodeName(name).size() + kSuffix.size() + kLongestCompanion.size();
  if (encoded > kMaxFileName) {
    return {ErrorCode::IllegalDatabaseName,
            "Name: too long for a file name once each '/' is written as %2F (" + std::to_string(encoded) +
                " of " + std::to_string(kMaxFileName) + " bytes with the journal's suffix)."};
  }
  return Status::ok();
}

static void removeFiles(const std::string& file) {
  std::error_code ec;
  for (const char* suffix : kCompanions) fs::remove(file + suffix, ec);
}

Result<std::shared_ptr<Database>> DataDir::create(const std::string& name) {
  if (Status st = checkName(name); !st) return st;
  std::lock_guard lock(open_->mu);
  std::string file = fileFor(name);
  if (open_->dbs.count(name) || fs::exists(file))
    return Status(ErrorCode::FileExists, "The database could not be created, the file already exists.");
  // Indexes of an earlier database of this name would hold its rows at its sequences.
  std::error_code ec;
  fs::remove_all(viewDirFor(name), ec);
  DatabaseOptions options = defaults_;
  options.createIfMissing = true;
  auto db = Database::open(file, name, options);
  if (!db) {
    // Whatever the failed open left (an empty file, a journal) would be a database that lists but
    // cannot be opened; the name stays free instead.
    removeFiles(file);
    return db.status();
  }
  std::shared_ptr<Database> shared(std::move(*db));
  open_->dbs[name] = shared;
  return shared;
}

Result<std::shared_ptr<Database>> DataDir::open(const std::string& name) {
  if (Status st = checkName(name); !st) return st;
  std::lock_guard lock(open_->mu);
  auto it = open_->dbs.find(name);
  if (it != open_->dbs.end()) return it->second;
  std::string file = fileFor(name);
  if (!fs::exists(file)) return notFound("Database does not exist.");
  DatabaseOptions options = defaults_;
  options.createIfMissing = false;
  auto db = Database::open(file, name, options);
  if (!db) return db.status();
  std::shared_ptr<Database> shared(std::move(*db));
  open_->dbs[name] = shared;
  return shared;
}

Status DataDir::remove(const std::string& name) {
  if (Status st = checkName(name); !st) return st;
  std::lock_guard lock(open_->mu);
  std::string file = fileFor(name);
  if (!fs::exists(file)) return notFound("Database does not exist.");
  open_->dbs.erase(name);
  removeFiles(file);
  std::error_code ec;
  fs::remove_all(viewDirFor(name), ec);
  return Status::ok();
}

Result<std::vector<std::string>> DataDir::list() {
  std::vector<std::string> names;
  std::error_code ec;
  auto failed = [&] { return Status(ErrorCode::Internal, "cannot list " + path_ + ": " + ec.message()); };
  // increment(ec), not a range for: the range's ++ throws on an error midway.
  fs::directory_iterator it(path_, ec), end;
  if (ec) return failed();
  for (; it != end; it.increment(ec)) {
    if (ec) return failed();
    std::string file = it->path().filename().string();
    if (file.size() > kSuffix.size() && file.ends_with(kSuffix))
      names.push_back(decodeName(std::string_view(file).substr(0, file.size() - kSuffix.size())));
  }
  if (ec) return failed();
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace settee
