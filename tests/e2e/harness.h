// Runs the real vitrina binary for end-to-end tests.
#pragma once

#include <simdjson.h>
#include <sys/types.h>

#include <list>
#include <map>
#include <string>
#include <vector>

namespace vitrina::e2e {

inline constexpr char kAdminKey[] = "e2e-admin-key-0123456789";
inline constexpr char kPublicKey[] = "e2e-public-key-0123456789";

// A fresh directory under the test temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& name);
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, interleaved
};

// Runs `vitrina args...` to completion with extra environment variables.
CommandResult RunVitrina(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {}, const std::string& stdin_text = "");
// Runs another program (a path, or a name looked up on PATH: curl,
// openssl) to completion.
CommandResult RunProgram(const std::string& program, const std::vector<std::string>& args);

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Parses response bodies as JSON (a failed expectation when one is not),
// keeping each body as long as itself. An element is valid until the next Parse.
class JsonBodies {
 public:
  simdjson::dom::element Parse(const HttpResult& result);

 private:
  simdjson::dom::parser parser_;
  std::list<std::string> bodies_;
};

// `vitrina serve` on a free port with the e2e keys, and 1024 connections
// per client address (every test client is 127.0.0.1).
class Server {
 public:
  Server(std::string data_dir, std::vector<std::string> extra_args = {});
  ~Server();  // stops it if running

  // Starts and waits until it listens; returns false (with the log in
  // log()) if it exits or does not come up in time.
  bool Start();
  int Stop();   // SIGTERM, wait; returns the exit code
  void Kill();  // SIGKILL, wait
  int port() const { return port_; }
  std::string log() const;

  // One request on a new connection; status -1 when the connection fails.
  HttpResult Request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& key = kAdminKey, const std::map<std::string, std::string>& headers = {});
  // Sends raw bytes on a new connection and returns everything the server
  // sends back until it closes (or 10 s pass).
  std::string RawExchange(const std::string& bytes);

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  std::string port_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Starts a training run through the API and waits until a snapshot other
// than `previous` is current; returns its id ("" after a test failure).
std::string TrainAndWait(Server& server, const std::string& previous);

}  // namespace vitrina::e2e
