// Preloaded (node --import) into a kharness process under test: writes its peak RSS in KiB to
// $KH_MAX_RSS_FILE when it exits, so a test can bound the memory a hostile input costs.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.KH_MAX_RSS_FILE) writeFileSync(process.env.KH_MAX_RSS_FILE, String(process.resourceUsage().maxRSS));
});
