/**
 * The apache-arrow instance that LanceDB uses.
 *
 * LanceDB is CommonJS and checks `instanceof` against the CommonJS build of apache-arrow; an ESM `import`
 * loads the second (ESM) build, whose tables LanceDB rejects ("schemas must be equivalent"). Every arrow
 * value handed to LanceDB must therefore be built from this module, not from `import 'apache-arrow'`.
 */
import { createRequire } from 'node:module';

export const arrow: typeof import('apache-arrow') = createRequire(import.meta.url)('apache-arrow');
