/** The shared models and photos beside the repository (`NOMEN_MODELS` points elsewhere for the models). */
import path from 'node:path';

const shared = path.resolve(import.meta.dirname, '../../../shared');
export const modelsDir = process.env.NOMEN_MODELS ?? path.join(shared, 'models');
export const dreamboothDir = path.join(shared, 'data/dreambooth');
export const objectsDir = path.join(shared, 'data/objects');
