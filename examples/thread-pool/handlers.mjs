// What the pool loads when this example runs from source under tsx: on Node 20 a worker thread
// does not get the loader hooks `--import tsx` installs, so it registers tsx itself and then
// imports the TypeScript module. Compiled JavaScript needs no such file: give its URL directly.
import { register } from 'tsx/esm/api';

register();
const { default: services } = await import('./handlers.ts');
export default services;
