// callguard: the command-line tool. The commands live in callguard_cli so tests can run them.
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return callguard::cli::RunCallguard(args, std::cout, std::cerr);
}
