// Auth's password checks: the lockout, the cache of good passwords, the cached user documents, and the
// upgrade of old hashes (auth.h gives the model).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/auth.h"

namespace settee::http {
namespace {

Status wrongPassword() { return Status(ErrorCode::Unauthorized, "Name or password is incorrect."); }

std::string userDocId(std::string_view name) { return "org.couchdb.user:" + std::string(name); }

// HMAC-SHA256 under `key` of the parts, each preceded by its length so that no two lists of parts
// give the same input.
std::string macOf(std::string_view key, std::initializer_list<std::string_view> parts) {
  std::string input;
  for (std::string_view part : parts) {
    input += std::to_string(part.size());
    input += ':';
    input += part;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &len);
  OPENSSL_cleanse(input.data(), input.size());  // it held a password
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

Auth::~Auth() {
  if (usersDb_) usersDb_->removeChangeListener(usersListener_);
}

std::string Auth::passwordMac(std::string_view name, std::string_view password) const {
  return macOf(cacheKey_, {name, password});
}

Result<UserCtx> Auth::login(std::string_view name, std::string_view password, std::string_view peer) {
  const std::string lockKey = macOf(cacheKey_, {"lockout", peer, name});
  {
    std::lock_guard lock(mu_);
    // Checked before the password, as CouchDB does: a locked pair costs no hashing at all.
    if (const uint32_t* failures = failures_.find(lockKey); failures && *failures >= kLockoutThreshold)
      return Status(ErrorCode::Forbidden,
                    "Account is temporarily locked due to multiple authentication failures");
  }
  auto user = checkPassword(std::string(name), password);
  if (!user && user.status().code() == ErrorCode::Unauthorized) {
    std::lock_guard lock(mu_);
    if (uint32_t* failures = failures_.find(lockKey))
      ++*failures;
    else
      failures_.insert(lockKey, 1);
  }
  return user;
}

Result<UserCtx> Auth::checkPassword(const std::string& name, std::string_view password) {
  std::optional<PasswordHash> hash;
  UserCtx user{name, {}};
  const auto admins = this->admins();
  const bool admin = admins->count(name) > 0;
  if (admin) {
    hash = admins->at(name);
    user.roles = {"_admin"};
  } else if (auto record = userRecord(name)) {
    hash = std::move(record->hash);
    user.roles = std::move(record->roles);
  }
  if (!hash) {
    // No such user (or no password): the same work as a wrong password, so the answer's time does not
    // tell which names exist.
    (void)PasswordHash::dummy().verify(password);
    return wrongPassword();
  }
  const std::string mac = passwordMac(name, password);
  std::string fingerprint = hash->fingerprint();
  {
    std::lock_guard lock(mu_);
    const Verified* known = verified_.find(name);
    if (known && known->fingerprint == fingerprint && known->mac.size() == mac.size() &&
        CRYPTO_memcmp(known->mac.data(), mac.data(), mac.size()) == 0)
      return user;
  }
  if (!hash->verify(password)) return wrongPassword();
  if (!admin && !hash->current()) {
    if (auto fresh = upgrade(name, password, *hash)) fingerprint = fresh->fingerprint();
  }
  std::lock_guard lock(mu_);
  verified_.insert(name, Verified{mac, std::move(fingerprint)});
  return user;
}

std::optional<Auth::SessionUser> Auth::sessionUser(const std::string& name) {
  const auto admins = this->admins();
  if (auto admin = admins->find(name); admin != admins->end())
    return SessionUser{UserCtx{name, {"_admin"}}, admin->second.salt};
  auto record = userRecord(name);
  if (!record) return std::nullopt;
  return SessionUser{UserCtx{name, std::move(record->roles)}, record->hash ? record->hash->salt : ""};
}

std::pair<std::shared_ptr<Database>, uint64_t> Auth::usersDb() {
  auto opened = data_.open("_users");
  std::shared_ptr<Database> db = opened ? std::move(*opened) : nullptr;
  std::lock_guard lock(mu_);
  if (db != usersDb_) {
    // _users appeared, or was deleted and made again: what was read from the old one is stale.
    if (usersDb_) usersDb_->removeChangeListener(usersListener_);
    usersDb_ = db;
    if (db)
      usersListener_ = db->addChangeListener([generation = usersGeneration_](uint64_t) { ++*generation; });
    ++*usersGeneration_;
  }
  return {std::move(db), usersGeneration_->load()};
}

std::optional<Auth::UserRecord> Auth::userRecord(const std::string& name) {
  // The generation is taken before the read: a write that lands after it makes the record stale.
  auto [db, generation] = usersDb();
  if (!db) return std::nullopt;
  {
    std::lock_guard lock(mu_);
    if (const UserRecord* cached = records_.find(name); cached && cached->generation == generation)
      return *cached;
  }
  auto doc = db->get(userDocId(name));
  if (!doc) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(*doc).get(root)) return std::nullopt;
  UserRecord record;
  record.hash = PasswordHash::fromUserDoc(root);
  record.generation = generation;
  simdjson::dom::array roles;
  if (!root["roles"].get(roles)) {
    for (auto r : roles) {
      std::string_view s;
      if (!r.get(s)) record.roles.emplace_back(s);
    }
  }
  std::lock_guard lock(mu_);
  records_.insert(name, record);
  return record;
}

std::optional<PasswordHash> Auth::upgrade(const std::string& name, std::string_view password,
                                          const PasswordHash& old) {
  auto [db, generation] = usersDb();
  if (!db) return std::nullopt;
  auto doc = db->get(userDocId(name));
  if (!doc) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(*doc).get(root)) return std::nullopt;
  // The password was checked against `old`; if the document now holds another hash (the password was
  // changed meanwhile), writing ours would undo that change.
  auto stored = PasswordHash::fromUserDoc(root);
  if (!stored || stored->fingerprint() != old.fingerprint()) return std::nullopt;
  PasswordHash fresh = PasswordHash::make(password);
  // The document's _rev goes back with it, so a write that came between is a conflict, and then the
  // upgrade waits for the next login.
  auto written = db->put(userDocWithHash(root, fresh));
  if (!written) return std::nullopt;
  return fresh;
}

}  // namespace settee::http
