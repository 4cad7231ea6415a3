/* The subcommands of `mainstream`: each parses its own arguments, wires library calls
 * together and returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef MS_CLI_COMMANDS_H
#define MS_CLI_COMMANDS_H

int cmd_inspect(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_score_events(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_infer(int argc, char **argv);

#endif
