/**
 * Exit status after a definite refusal: sysexits' EX_CONFIG, so a supervisor can be told not to restart an agent
 * whose token, id or tier the hub will keep refusing, or whose token file is unsafe (systemd:
 * RestartPreventExitStatus=78).
 */
export const EXIT_REFUSED = 78;
