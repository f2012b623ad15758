#include "server_main.h"

int main(int argc, char** argv) { return callguard::RunServerMain(argc, argv); }
