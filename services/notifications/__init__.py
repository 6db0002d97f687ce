"""Messages out of the house: customer messages through the job queue (as language-free Text),
admin alerts stored then delivered, and support questions. Imports models, jobs and infra.
"""
