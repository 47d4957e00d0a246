"""What every app may use and no app owns: nothing in here imports a domain app (checked by
import-linter, `.importlinter`)."""
