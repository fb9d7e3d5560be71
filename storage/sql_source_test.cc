// No SQL is built from strings at run time anywhere in //storage. The
// compiler already enforces most of it (sql::Statement is consteval); this
// scan catches the rest: raw exec calls and SQL text next to string
// building.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::storage {
namespace {

std::map<std::string, std::string> ProductionSources() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::map<std::string, std::string> files;
  if (srcdir == nullptr) return files;
  const std::filesystem::path root =
      std::filesystem::path(srcdir) / "sallyport" / "storage";
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    const std::string ext = it->path().extension().string();
    if (ext != ".cc" && ext != ".h") continue;
    if (name.find("_test") != std::string::npos) continue;  // tests, suite
    std::ifstream in(it->path());
    std::stringstream buf;
    buf << in.rdbuf();
    files[it->path().lexically_relative(root).string()] = buf.str();
  }
  return files;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(SqlSourceTest, ScansTheBackends) {
  const auto files = ProductionSources();
  for (const char* must :
       {"sql/sql_store_identity.cc", "sql/database.h",
        "sqlite/sqlite_connection.cc", "postgres/pg_connection.cc"}) {
    EXPECT_EQ(files.count(must), 1u) << must << " not in the runfiles";
  }
}

TEST(SqlSourceTest, OnlyPreparedOrParameterisedExecution) {
  size_t pqexec = 0;
  for (const auto& [name, text] : ProductionSources()) {
    EXPECT_EQ(Count(text, "sqlite3_exec("), 0u) << name;
    EXPECT_EQ(Count(text, "sqlite3_mprintf("), 0u) << name;
    pqexec += Count(text, "PQexec(");
    if (Count(text, "PQexec(") > 0) {
      // The one PQexec runs the embedded migration scripts.
      EXPECT_EQ(name, "postgres/pg_connection.cc");
      EXPECT_NE(text.find("PQexec(conn_, script)"), std::string::npos);
    }
  }
  EXPECT_EQ(pqexec, 1u);
}

TEST(SqlSourceTest, NoSqlNextToStringBuilding) {
  const std::vector<std::string> builders = {"StrCat(",        "StrAppend(",
                                             "Substitute(",    "printf(",
                                             "std::string(\"", "\" +"};
  const std::vector<std::string> sql = {"SELECT ", "INSERT ", "UPDATE ",
                                        "DELETE ", "WHERE ",  "VALUES"};
  for (const auto& [name, text] : ProductionSources()) {
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
      ++number;
      bool builds = false;
      for (const auto& b : builders)
        builds |= line.find(b) != std::string::npos;
      if (!builds) continue;
      for (const auto& s : sql) {
        EXPECT_EQ(line.find(s), std::string::npos)
            << name << ":" << number << ": " << line;
      }
    }
  }
}

}  // namespace
}  // namespace sallyport::storage
