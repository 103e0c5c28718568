/** A mistake in the command line: said with the usage, exit status 2. */
export class UsageError extends Error {}
