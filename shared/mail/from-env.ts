import { functionRuntime } from '../aws/runtime.js';
import { mailFor } from './function-mail.js';

/** @deprecated Only functions/auth still calls it (work on it is in flight): use `mailFor(runtime)`. */
export function mailFromEnv(): ReturnType<typeof mailFor> {
  return mailFor(functionRuntime());
}
