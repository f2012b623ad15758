#include "database_cache.h"

#include <hs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace callguard {
namespace {

constexpr char kMagic[] = "callguard-hsdb-1\n";

uint64_t Fnv1a64(absl::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
bool GetU64(absl::string_view* in, uint64_t* v) {
  if (in->size() < sizeof(*v)) return false;
  std::memcpy(v, in->data(), sizeof(*v));
  in->remove_prefix(sizeof(*v));
  return true;
}

hs_database_t* Load(const std::string& path, absl::string_view key) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return nullptr;
  std::stringstream buffer;
  buffer << f.rdbuf();
  const std::string data = buffer.str();
  absl::string_view in(data);
  if (!absl::ConsumePrefix(&in, kMagic)) return nullptr;
  uint64_t key_size = 0, db_size = 0;
  if (!GetU64(&in, &key_size) || in.size() < key_size || in.substr(0, key_size) != key) return nullptr;
  in.remove_prefix(key_size);
  if (!GetU64(&in, &db_size) || in.size() != db_size) return nullptr;
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(in.data(), in.size(), &db) != HS_SUCCESS) return nullptr;
  return db;
}

void Store(const std::string& dir, const std::string& path, absl::string_view key, const hs_database_t* db) {
  char* bytes = nullptr;
  size_t length = 0;
  if (hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) return;
  std::string out(kMagic);
  PutU64(&out, key.size());
  out.append(key.data(), key.size());
  PutU64(&out, length);
  out.append(bytes, length);
  std::free(bytes);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Write aside, then rename: concurrent processes never read a half-written entry.
  const std::string tmp = absl::StrCat(path, ".", ::getpid(), ".tmp");
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return;
    f.write(out.data(), static_cast<std::streamsize>(out.size()));
    if (!f) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

absl::StatusOr<hs_database_t*> DatabaseCache::GetOrCompile(absl::string_view key,
                                                           absl::FunctionRef<absl::StatusOr<hs_database_t*>()> compile) const {
  if (dir_.empty()) return compile();
  const std::string full_key = absl::StrCat(hs_version(), "\n", key);
  const std::string path = absl::StrFormat("%s/%016x.hsdb", dir_, Fnv1a64(full_key));
  if (hs_database_t* db = Load(path, full_key); db != nullptr) return db;
  auto db = compile();
  if (db.ok()) Store(dir_, path, full_key, *db);
  return db;
}

std::string DefaultDatabaseCacheDir() {
  if (const char* d = std::getenv("CALLGUARD_CACHE_DIR"); d != nullptr) return d;  // "" disables
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') return absl::StrCat(x, "/callguard");
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return absl::StrCat(h, "/.cache/callguard");
  return "";
}

}  // namespace callguard
