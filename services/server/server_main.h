#ifndef CALLGUARD_SERVER_SERVER_MAIN_H_
#define CALLGUARD_SERVER_SERVER_MAIN_H_

namespace callguard {

// The callguard-server program: parses the flags, starts the server, prints the ready line on
// stdout, reloads the policies on SIGHUP and shuts down on SIGINT/SIGTERM. Returns the exit
// code: 0 after a clean shutdown, 1 if the server cannot start, 2 for bad flags.
int RunServerMain(int argc, char** argv);

}  // namespace callguard

#endif  // CALLGUARD_SERVER_SERVER_MAIN_H_
